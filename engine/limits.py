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
    # formula surfaces (engine.expression): refused before any parsing work, whatever the size sent
    "max_expression_length": 8_000,  # characters: linear_regression written out (64 samples, full digits) is ~5,000
    "max_expression_nodes": 1_000,  # operands + operators: each costs every grid cell and step (1000² grid ≈ 1 s)
    "max_expression_depth": 64,  # nested (), calls, unary signs and exponents: bounds parser recursion and stack
    "max_expression_params": 16,  # named parameters of one formula (a slider each)
    # formula nodes x point evaluations of a grid (cells), slice (points) or critical-point search (seeds² x 100
    # Newton iterations); descents count a formula's nodes into max_descent_work instead (engine.descent.step_cost)
    "max_formula_work": 250_000_000,
    # descent: steps of one trajectory, and steps x runs for a request
    "max_steps": 100_000,
    # numbers a Python function descent records: runs x (steps + 1) x dimensions (engine.user_function; ~8 bytes each)
    "max_function_record": 50_000_000,
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
    "max_user_rows": 20_000,  # rows of the user's own data before its validation split (engine.user_data)
    "max_data_features": 256,  # feature columns of the user's own data
    "max_data_classes": 64,  # classes of the user's own labels (the output layer's width)
    "max_csv_chars": 4_000_000,  # characters of a CSV dataset (the body limit is 8 MB)
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
    # language models (engine.corpora, engine.lm_models, engine.lm_train, engine.lm_inspect)
    "max_lm_text_chars": 100_000,  # user text of one request: tokenized and counted in ~10 ms
    "max_lm_corpus_tokens": 1_000_000,  # tokens of one split of a generated corpus: 8 MB of int64
    "max_lm_vocab": 256,  # a cap, not a refusal: rarer characters beyond it use the byte fallback
    "max_lm_block_size": 64,  # context length: attention is block_size^2 per head
    "max_lm_d_model": 128,  # the largest size bench_lm times against torch (>= 1x)
    "max_lm_layers": 4,
    "max_lm_heads": 8,
    "max_lm_width": 1024,  # the mlp's embedding x context and hidden widths
    "max_lm_batch": 64,  # windows per step
    "max_lm_activations": 14_000_000,  # floats kept for the backward pass (batch x block x model): 112 MB;
    # the largest gpt (d_model 128, 4 layers, 4 heads, block 64) takes batch 16 at most
    "max_lm_parameters": 1_000_000,  # 8 MB per float64 vector (parameters, gradient, 3 optimizer rows)
    "max_lm_steps": 20_000,
    "max_lm_evals": 200,  # evaluations (each with a sample) of one run
    "max_lm_eval_tokens": 32_768,  # target positions of each fixed evaluation sample
    "max_lm_sample_chars": 400,  # characters of one generated sample
    "max_lm_prompt_chars": 256,  # characters of an inspected prompt (a gpt's block_size at most)
    "max_lm_work": 300_000_000_000,  # operations of a run (engine.lm_train.run_flops), ~30 GFLOP/s here: the
    # default runs fit (the gpt's on a 16-token stream is the largest, 2.9e11), 50 steps of the largest gpt
    # curvature (engine.hvp, engine.spectrum, engine.saddles, engine.edge_of_stability)
    "max_dense_hessian_parameters": 3_000,  # the full P x P Hessian: 72 MB and P HVPs (~1 s at 3000 here)
    "max_hessian_top_k": 20,  # eigenpairs per end of the spectrum: eigsh keeps ~2k+1 Lanczos vectors of P
    "max_lanczos_steps": 200,  # SLQ Lanczos steps per probe: full reorthogonalization is steps^2 x P
    "max_slq_probes": 32,  # SLQ start vectors
    "max_lanczos_memory": 20_000_000,  # steps x P floats kept for full reorthogonalization: 160 MB
    "max_density_points": 2_001,  # grid points of a smoothed spectral density
    "max_hutchinson_samples": 1_000,  # Rademacher probes of the trace estimate
    "max_hessian_work": 20_000_000_000,  # estimated multiply-adds of one request (an HVP: 8 x rows x P): ~6 s at the
    # slowest rate measured here with one BLAS thread (0.3 ns each; engine.network_hessian._work)
    "max_goe_dim": 100,  # matrix size N of the GOE experiment (P(min) ~ exp(-N^2/4): 0 in any sample beyond ~12)
    "max_goe_samples": 1_000_000,  # Monte Carlo matrices per N
    "max_goe_work": 100_000_000,  # normal draws of one request (samples x sum N(N+1)/2): ~1 s
    "max_saddle_parameters": 200,  # network of the critical-point search: a full Hessian + eigh per Newton step
    "max_saddle_starts": 128,  # starts of the critical-point search
    "max_saddle_iterations": 500,  # Newton steps per start
    "max_saddle_work": 10_000_000_000,  # engine.saddles._work (~1 ns units: GD steps, Newton-MR's Hessians, eigh,
    # line search): ~10 s; the default search is 2.5e9
    "max_sharpness_evaluations": 1_000,  # sharpness (Lanczos) evaluations along one training run
}


# Per-sweep limits (engine.sweeps; POST /api/v1/sweeps): a sweep may exceed the single-request limits above,
# which every one of its runs obeys. Published in the catalog's "limits" beside them.
SWEEP_LIMITS: dict[str, int] = {
    "max_sweep_axes": 6,  # dotted paths swept at once
    "max_sweep_axis_values": 256,  # values of one axis
    "max_sweep_seeds": 64,
    "max_sweep_combinations": 1024,  # product of the axes' lengths: each is validated before submission
    "max_sweep_tasks": 4096,  # runs (combinations x seeds), several to a Dask task (engine.sweep_tasks)
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
