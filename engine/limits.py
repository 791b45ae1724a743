"""Hard limits on the work one call may ask for.

Every public engine function checks its inputs against these before any kernel runs,
and the error names the limit, e.g. ``steps: 200000 exceeds limit max_steps=100000``.
The service publishes this dict in ``/api/v1/catalog`` and applies the same checks.
Each concept module adds its own entries here, one line each with a why-comment.
"""

from __future__ import annotations

from .errors import EngineInputError

LIMITS: dict[str, int] = {
    # losses: one evaluation, one curve request
    "max_loss_elements": 100_000,
    "max_curve_points": 10_001,
    "max_curve_losses": 16,
    # landscapes: 1000x1000 is the largest picture a frontend draws
    "max_grid_axis": 1000,
    "max_slice_points": 10_001,
    "max_critical_seeds_axis": 100,  # Newton seeds per axis: 10k Newton runs at most
    "max_surface_samples": 10_000,  # linear_regression surface: every kernel call loops over all samples
    # descent: steps of one trajectory, and steps x runs for a request
    "max_steps": 100_000,
    "max_schedule_milestones": 1_000,  # MultiStepLR milestones in one schedule (a sort + search per request)
    "max_race_runs": 16,
    "max_sweep_lrs": 64,
    "max_basin_axis": 500,
    "max_descent_work": 50_000_000,  # total optimizer steps in one request (basins: nx*ny*steps)
    "max_batch_work": 5_000_000,  # mini-batch samples drawn per request (runs*steps*batch_size): index memory
    "max_race_work": 100_000,  # recorded race steps (runs*steps, 9 numbers each): the JSON of one max trajectory
    "max_sweep_work": 500_000,  # recorded sweep losses (lrs*steps): about 10 MB of JSON
    # training (engine.datasets, engine.training, engine.regularization, engine.doctor)
    "max_train_samples": 10_000,  # points in a training split
    "max_val_samples": 10_000,  # points in a validation split
    "max_epochs": 10_000,
    "max_training_work": 5_000_000_000,  # parameter-samples of a run or comparison (engine.training_setup.work): ~2 s here
    "max_compare_variants": 8,  # regularization variants trained side by side
    "max_prediction_axis": 256,  # points per axis of the drawn prediction (line or grid)
    "max_doctor_epochs": 100_000,  # points of a loss curve the doctor reads
    # networks (engine.mlp, engine.backprop, engine.gradient_profile, engine.network_landscape)
    "max_layers": 64,  # weight layers of one MLP (a profile's depth)
    "max_width": 1024,  # units in any layer, inputs and outputs included
    "max_batch": 1024,  # samples in one forward/backward pass of a request
    "max_network_parameters": 2_000_000,  # 16 MB per float64 vector (parameters, gradient, optimizer state)
    "max_network_work": 50_000_000,  # batch x parameters: multiply-adds of one forward pass (backward ~2x)
    "max_backprop_parameters": 2_000,  # /networks/backprop returns every z, a, dz, da, W, dW and runs 2P forwards
    "max_backprop_samples": 32,  # rows of the backprop records
    "max_profile_steps": 1_000,  # training steps of a gradient profile during training
    "max_profile_work": 200_000_000,  # (steps + 1) x batch x parameters of that training: ~3 s at 1M parameters
    "max_landscape_axis": 201,  # points per axis of a network landscape slice
    "max_landscape_samples": 2_000,  # points of its synthetic dataset
    "max_landscape_work": 1_000_000_000,  # (grid points + 3 x training steps) x samples x parameters
}


# Per-sweep limits (engine.sweeps; POST /api/v1/sweeps): a sweep may exceed the single-request limits above,
# which every one of its runs obeys. Published in the catalog's "limits" beside them.
SWEEP_LIMITS: dict[str, int] = {
    "max_sweep_axes": 6,  # dotted paths swept at once
    "max_sweep_axis_values": 256,  # values of one axis
    "max_sweep_seeds": 64,
    "max_sweep_combinations": 1024,  # product of the axes' lengths: each is validated before submission
    "max_sweep_tasks": 4096,  # combinations x seeds: one Dask task each
    "max_sweep_metrics": 16,
    "max_sweep_values": 1_000_000,  # numbers in the results (rows x metrics, a curve counting its points): ~20 MB of JSON
    # sum over tasks of (the task's work / the largest work one request of its kind may ask for): 256
    # maximal requests, ~2 s each on the 2-core development machine (a 4-minute sweep on its 2 workers)
    "max_sweep_budget": 256,
}


def check_max(field: str, value: float, limit: str) -> None:
    """Refuse ``value`` above ``LIMITS[limit]`` (or ``SWEEP_LIMITS[limit]``), naming both the field and the limit."""
    bound = LIMITS[limit] if limit in LIMITS else SWEEP_LIMITS[limit]
    if value > bound:
        raise EngineInputError(field, f"{value} exceeds limit {limit}={bound}")
