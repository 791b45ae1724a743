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
    # descent: steps of one trajectory, and steps x runs for a request
    "max_steps": 100_000,
    "max_race_runs": 16,
    "max_sweep_lrs": 64,
    "max_basin_axis": 500,
    "max_descent_work": 50_000_000,  # total optimizer steps in one request (basins: nx*ny*steps)
}


def check_max(field: str, value: float, limit: str) -> None:
    """Refuse ``value`` above ``LIMITS[limit]``, naming both the field and the limit."""
    bound = LIMITS[limit]
    if value > bound:
        raise EngineInputError(field, f"{value} exceeds limit {limit}={bound}")
