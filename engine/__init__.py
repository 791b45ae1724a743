"""descentlab's engine: Numba-compiled numbers behind every picture of how networks learn.

Usable without Flask. Public names are re-exported here, one block per concept module::

    import engine
    engine.evaluate_loss("mse", [0.7, 0.2, 0.1], [1, 0, 0]).value
"""

from .errors import EngineInputError
from .limits import LIMITS
from .catalog import build_catalog
from .warmup import warm_kernels
from .losses import LOSS_CODES, LOSSES, CurvesResult, LossCurve, LossResult, ResolvedLoss, evaluate_loss, loss_curves, loss_value_grad, resolve_loss
from .surfaces import SURFACES, Surface, SurfaceSpec, resolve_surface, surface_grad, surface_hessian, surface_value
from .landscape import CriticalPoints, LandscapeGrid, LandscapeSlice, critical_points, landscape_grid, landscape_slice
from .datasets import DATASETS, Dataset, make_dataset
from .doctor import Diagnosis, diagnose
from .training import TrainingResult, TrainingStream, epoch_order, train
from .training import stream as train_stream
from .regularization import REGULARIZERS, Comparison, compare
from .optimizers import OPTIMIZERS, Optimizer, new_state, optimizer_step, reset_state, resolve_optimizer
from .schedules import SCHEDULES, ScheduleValues, lr_schedule, schedule_values
from .clipping import ClippedGradient, clip_by_norm, clip_by_value, clip_grad_norm, clip_grad_value, grad_norm
from .trajectory import Trajectory, run_trajectory
from .race import Race, RaceSummary, run_race
from .lr_sweep import LRRangeTest, LRSweep, SweepRun, lr_range_test, run_lr_sweep
from .basins import Basins, basin_map
from .activations import ACTIVATIONS, activation_deriv, activation_value, evaluate_activation, resolve_activation
from .init import INITS, calculate_gain, init_layer, resolve_init, weight_stats
from .mlp import MLP, build_mlp, init_params, loss_and_grad, mlp_backward, mlp_forward, mlp_loss, mlp_loss_grad, mlp_predict, new_running, pack, predict, record_size, unpack, workspace_size
from .backprop import BackpropResult, run_backprop
from .gradient_profile import GradientProfile, run_gradient_profile
from .network_landscape import NetworkLandscape, run_network_landscape
from .sweep_kinds import KINDS as SWEEP_KINDS, SweepKind
from .sweeps import SWEEP_LIMITS, SweepPlan, SweepSpec, plan as plan_sweep, sweep
from .sweep_results import Aggregate, SweepResult
from .sweep_analysis import heatmap, scaling_curves, scaling_law_fits, seed_bands
from .scaling import PowerLawFit, ScalingLawFit, fit_power_law, fit_scaling_law

__all__ = ["EngineInputError", "LIMITS", "build_catalog", "warm_kernels"]
__all__ += ["LOSS_CODES", "LOSSES", "CurvesResult", "LossCurve", "LossResult", "ResolvedLoss", "evaluate_loss", "loss_curves", "loss_value_grad", "resolve_loss"]
__all__ += ["DATASETS", "Dataset", "make_dataset", "Diagnosis", "diagnose"]
__all__ += ["TrainingResult", "TrainingStream", "epoch_order", "train", "train_stream", "REGULARIZERS", "Comparison", "compare"]
__all__ += ["SURFACES", "Surface", "SurfaceSpec", "resolve_surface", "surface_grad", "surface_hessian", "surface_value"]
__all__ += ["CriticalPoints", "LandscapeGrid", "LandscapeSlice", "critical_points", "landscape_grid", "landscape_slice"]
__all__ += ["OPTIMIZERS", "Optimizer", "new_state", "optimizer_step", "reset_state", "resolve_optimizer"]
__all__ += ["SCHEDULES", "ScheduleValues", "lr_schedule", "schedule_values"]
__all__ += ["ClippedGradient", "clip_by_norm", "clip_by_value", "clip_grad_norm", "clip_grad_value", "grad_norm"]
__all__ += ["Trajectory", "run_trajectory", "Race", "RaceSummary", "run_race"]
__all__ += ["LRRangeTest", "LRSweep", "SweepRun", "lr_range_test", "run_lr_sweep", "Basins", "basin_map"]
__all__ += ["ACTIVATIONS", "activation_deriv", "activation_value", "evaluate_activation", "resolve_activation"]
__all__ += ["INITS", "calculate_gain", "init_layer", "resolve_init", "weight_stats"]
__all__ += ["MLP", "build_mlp", "init_params", "loss_and_grad", "mlp_backward", "mlp_forward", "mlp_loss", "mlp_loss_grad", "mlp_predict", "new_running", "pack", "predict", "record_size", "unpack", "workspace_size"]
__all__ += ["BackpropResult", "run_backprop", "GradientProfile", "run_gradient_profile", "NetworkLandscape", "run_network_landscape"]
__all__ += ["SWEEP_KINDS", "SweepKind", "SWEEP_LIMITS", "SweepPlan", "SweepSpec", "plan_sweep", "sweep", "Aggregate", "SweepResult"]
__all__ += ["heatmap", "scaling_curves", "scaling_law_fits", "seed_bands", "PowerLawFit", "ScalingLawFit", "fit_power_law", "fit_scaling_law"]
