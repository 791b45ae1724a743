"""Schemas of the curvature endpoints: a network's Hessian spectrum, and saddle statistics.

``POST /api/v1/networks/hessian`` and ``POST /api/v1/landscapes/saddle-statistics``. Names are checked
against the engine's registries, limits are named in every refusal, arrays are dumped through
``NumberArray``; no value is ever NaN or Infinity (the engine refuses or reports instead).
"""

from __future__ import annotations

import dataclasses

from marshmallow import Schema, fields, post_load, pre_dump, validate

from engine.activations import ACTIVATIONS
from engine.limits import LIMITS
from engine.losses import LOSSES
from engine.saddles import EIG_TOL, FLAT_TOL, GRAD_TOL, KINDS, WEIGHT_DECAY
from engine.spectrum import DEFAULT_SIGMA, DEFAULT_TOL

from ..fields import FiniteFloat, NumberArray, limit_range
from .common import InitSchema, OptimizerSchema
from .training import DatasetSchema

_ACTS = list(ACTIVATIONS)
_SEED = dict(strict=True, load_default=0, validate=validate.Range(0, 2**32 - 1),
             metadata={"description": "seeds the initial weights and every random probe"})


def _layers(default=None):
    """Widths; required when there is no default (the Hessian request: what network is the point)."""
    n = LIMITS["max_layers"]
    extra = {"required": True} if default is None else {"load_default": default}
    return fields.List(
        fields.Integer(strict=True, validate=limit_range("max_width", 1, LIMITS["max_width"])),
        **extra,
        validate=validate.Length(min=2, max=n + 1, error=f"must list between {{min}} and {{max}} widths (limit max_layers)"),
        metadata={"description": "widths from input to output; the first must match the dataset's inputs, the last "
                                 "1 (regression, binary) or n_classes (limits max_layers, max_width)"},
    )


def _int(default, low, limit, description):
    return fields.Integer(strict=True, load_default=default, validate=limit_range(limit, low, LIMITS[limit]),
                          metadata={"description": f"{description} (limit {limit})"})


class _NetworkPart(Schema):
    """The network, data and loss of a full-batch problem (engine.full_batch)."""

    activation = fields.String(load_default="tanh", validate=validate.OneOf(_ACTS),
                               metadata={"description": "hidden-layer activation from the catalog's 'activations'"})
    activation_params = fields.Dict(keys=fields.String(), load_default=None, allow_none=True, metadata={
        "description": "the activation's parameter: {'negative_slope': ...} (leaky_relu), {'alpha': ...} (elu)"})
    output_activation = fields.String(load_default="identity", validate=validate.OneOf(_ACTS), metadata={
        "description": "output-layer activation; bce and cross_entropy need 'sigmoid'"})
    loss = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(LOSSES)), metadata={
        "description": "must fit the task: regression mse|mae|huber|smooth_l1|log_cosh; binary (1 output) "
                       "bce_with_logits|mse|hinge|bce; multiclass cross_entropy_with_logits|mse|cross_entropy; "
                       "default the first"})
    dataset = fields.Nested(DatasetSchema, load_default=None, allow_none=True, metadata={
        "description": "the training split is the batch the Hessian is of; default moons (200 points)"})
    init = fields.Nested(InitSchema, load_default=None, allow_none=True,
                         metadata={"description": "initial weights; default torch_default (nn.Linear's)"})
    seed = fields.Integer(**_SEED)


class HessianRequest(_NetworkPart):
    layers = _layers()
    loss_params = fields.Dict(keys=fields.String(), load_default=None, allow_none=True,
                              metadata={"description": "e.g. {'delta': 1.0} for huber"})
    residual = fields.Boolean(load_default=False, metadata={
        "description": "skip connections on hidden layers 2.. of equal input and output width"})
    batch_norm = fields.Boolean(load_default=False, metadata={
        "description": "batch normalization before every hidden activation (the Hessian differentiates through the "
                       "batch statistics)"})
    dropout = FiniteFloat(load_default=0.0, validate=validate.Range(0.0, 0.95), metadata={
        "description": "dropout during the training steps only: the Hessian is of the loss without dropout"})
    train_steps = _int(0, 0, "max_steps", "full-batch optimizer steps before the spectrum (0: at initialization)")
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "the training steps' optimizer; default sgd lr 0.1"})
    top_k = _int(5, 0, "max_hessian_top_k", "largest eigenvalues wanted")
    bottom_k = fields.Integer(strict=True, load_default=None, allow_none=True,
                              validate=limit_range("max_hessian_top_k", 0, LIMITS["max_hessian_top_k"]),
                              metadata={"description": "smallest eigenvalues wanted; default top_k "
                                                       "(limit max_hessian_top_k)"})
    density = fields.Boolean(load_default=True, metadata={"description": "also the spectral density (SLQ)"})
    tol = FiniteFloat(load_default=DEFAULT_TOL, validate=validate.Range(0.0, 0.1),
                      metadata={"description": "relative tolerance per eigenvalue, eigsh's test (0: machine precision)"})
    trace_samples = _int(100, 1, "max_hutchinson_samples", "Rademacher probes of the Hutchinson trace")
    density_steps = _int(64, 1, "max_lanczos_steps", "Lanczos steps per SLQ probe")
    density_probes = _int(4, 1, "max_slq_probes", "SLQ start vectors")
    density_points = _int(256, 16, "max_density_points", "grid points of the density")
    sigma = FiniteFloat(load_default=DEFAULT_SIGMA, validate=validate.Range(0.0, 1.0, min_inclusive=False),
                        metadata={"description": "density smoothing width relative to the spread of the SLQ nodes",
                                  "exclusiveMinimum": True})


class DensitySchema(Schema):
    x = NumberArray(metadata={"description": "eigenvalue grid"})
    y = NumberArray(metadata={"description": "smoothed density on x (integrates to 1)"})
    sigma = fields.Float(metadata={"description": "the Gaussian's standard deviation (eigenvalue units)"})
    steps = fields.Integer(metadata={"description": "Lanczos steps asked per probe"})
    steps_taken = NumberArray(item_type="integer", metadata={"description": "Lanczos steps each probe took"})
    probes = fields.Integer(metadata={"description": "start vectors averaged"})
    matvecs = fields.Integer(metadata={"description": "Hessian-vector products of the density"})
    mean = fields.Float(metadata={"description": "the density's mean: an estimate of trace / n_params"})
    mean_stderr = fields.Float(metadata={"description": "its standard error over the probes"})
    method = fields.String(metadata={"description": "how the density was computed"})


class MethodSchema(Schema):
    name = fields.String(metadata={"description": "lanczos"})
    library = fields.String(metadata={"description": "the implementation used"})
    iterations = fields.Integer(metadata={"description": "Hessian-vector products of both Lanczos calls"})
    tolerance = fields.Float(metadata={"description": "relative tolerance per eigenvalue (eigsh's test)"})
    ncv = fields.Integer(metadata={"description": "Lanczos vectors kept (top-k call): max(20, 2k + 1)"})
    maxiter = fields.Integer(metadata={"description": "Lanczos restarts allowed per call: 20, fewer when the work budget "
                                                      "(max_hessian_work) leaves less"})
    top_matvecs = fields.Integer(metadata={"description": "HVPs of the top-k call"})
    bottom_matvecs = fields.Integer(metadata={"description": "HVPs of the bottom-k call"})
    top_converged = fields.Integer(metadata={"description": "top eigenvalues that met the tolerance"})
    bottom_converged = fields.Integer(metadata={"description": "bottom eigenvalues that met the tolerance"})
    top_method = fields.String(metadata={"description": "lanczos, or dense when k >= n_params - 1"})
    bottom_method = fields.String(metadata={"description": "lanczos, or dense when k >= n_params - 1"})


class ExactSchema(Schema):
    eigenvalues = NumberArray(metadata={"description": "every eigenvalue, ascending (eigh of the full matrix)"})
    trace = fields.Float(metadata={"description": "the exact trace"})
    asymmetry = fields.Float(metadata={"description": "max|H - H^T| / max|H| of the matrix built from HVPs"})
    negative_fraction = fields.Float(metadata={"description": "the index: fraction of eigenvalues < 0"})


class TrainingInfo(Schema):
    steps = fields.Integer(metadata={"description": "training steps taken"})
    status = fields.String(metadata={"enum": ["ok", "diverged", "none"], "description": (
        "diverged: a non-finite loss stopped training; the spectrum is at the last finite parameters")})
    loss = NumberArray(metadata={"description": "the loss before each step"})
    optimizer = fields.Dict(allow_none=True, metadata={"description": "name and resolved hyperparameters"})


class HessianResponse(Schema):
    n_params = fields.Integer(metadata={"description": "parameters: the Hessian is n_params x n_params"})
    top = NumberArray(metadata={"description": "largest eigenvalues, largest first"})
    bottom = NumberArray(metadata={"description": "smallest eigenvalues, smallest first"})
    trace = fields.Float(metadata={"description": "Hutchinson estimate of the trace"})
    trace_stderr = fields.Float(metadata={"description": "its standard error"})
    trace_samples = fields.Integer(metadata={"description": "Rademacher probes used"})
    density = fields.Nested(DensitySchema, allow_none=True, metadata={"description": "null when density is false"})
    method = fields.Nested(MethodSchema, metadata={"description": "the Lanczos settings and counts"})
    exact = fields.Nested(ExactSchema, allow_none=True, metadata={
        "description": "the full spectrum, for at most 500 parameters; null otherwise"})
    loss = fields.Float(metadata={"description": "full-batch loss at the parameters analysed"})
    grad_norm = fields.Float(metadata={"description": "‖∇L‖ there"})
    training = fields.Nested(TrainingInfo, metadata={"description": "the training steps taken first"})
    settings = fields.Dict(metadata={"description": "network, loss, dataset and seed used"})


# -- saddle statistics ----------------------------------------------------------------------------

_GOE_ONLY = ("dims", "samples")
_NETWORK_ONLY = ("layers", "activation", "activation_params", "output_activation", "loss", "dataset", "init",
                 "starts", "train_steps", "lr", "iterations", "weight_decay", "grad_tol", "flat_tol", "eig_tol")


def _tol(default, description):
    return FiniteFloat(load_default=default, validate=validate.Range(0.0, 1.0, min_inclusive=False, max_inclusive=False),
                       metadata={"description": description, "exclusiveMinimum": True, "exclusiveMaximum": True})


class SaddleRequest(_NetworkPart):
    experiment = fields.String(required=True, validate=validate.OneOf(["goe", "network"]), metadata={
        "description": "goe: random symmetric matrices; network: critical points of a small MLP"})
    dims = fields.List(fields.Integer(strict=True, validate=limit_range("max_goe_dim", 1, LIMITS["max_goe_dim"])),
                       load_default=list(range(1, 11)), validate=validate.Length(min=1, max=100),
                       metadata={"description": "goe: matrix sizes N, default 1..10 (limit max_goe_dim)"})
    samples = _int(100_000, 1, "max_goe_samples", "goe: Monte Carlo matrices per N; samples x Σ N(N+1)/2 within "
                                                   "max_goe_work")
    layers = _layers([1, 4, 1])
    starts = _int(24, 1, "max_saddle_starts", "network: starting points")
    train_steps = _int(20_000, 0, "max_steps", "network: GD steps before the last start's search (start s gets "
                                               "train_steps·s/(starts − 1))")
    lr = FiniteFloat(load_default=0.1, validate=validate.Range(0.0, 10.0, min_inclusive=False),
                     metadata={"description": "network: the GD learning rate", "exclusiveMinimum": True})
    iterations = _int(200, 1, "max_saddle_iterations", "network: Newton-MR iterations per start")
    weight_decay = FiniteFloat(load_default=WEIGHT_DECAY, validate=validate.Range(0.0, 1.0), metadata={
        "description": "network: the objective is L + (weight_decay/2)‖θ‖² (so minima are attained)"})
    grad_tol = _tol(GRAD_TOL, "network: critical when ‖∇L‖ <= grad_tol")
    flat_tol = _tol(FLAT_TOL, "network: gradient-flat when not critical and ‖H∇L‖/(max|λ|·‖∇L‖) <= flat_tol")
    eig_tol = _tol(EIG_TOL, "network: eigenvalues below -eig_tol·max|λ| count as negative")

    @post_load(pass_original=True)
    def _ignored(self, data, original, **kwargs):
        """The other experiment's fields: range-checked above, then ignored and listed (as losses/evaluate does)."""
        foreign = _NETWORK_ONLY if data["experiment"] == "goe" else _GOE_ONLY
        data["ignored"] = sorted(k for k in foreign if isinstance(original, dict) and k in original)
        return data


class PointSchema(Schema):
    loss = fields.Float(metadata={"description": "the objective L + (weight_decay/2)‖θ‖² at the point found"})
    data_loss = fields.Float(metadata={"description": "L alone"})
    index = fields.Float(metadata={"description": "fraction of negative Hessian eigenvalues"})
    grad_norm = fields.Float(metadata={"description": "‖∇(objective)‖ at the point"})
    critical = fields.Boolean(metadata={"description": "grad_norm <= grad_tol"})
    kind = fields.String(metadata={"enum": list(KINDS), "description": (
        "critical; gradient_flat: not critical but ∇L nearly in H's null space (Frye et al.); not_converged")})
    flatness = fields.Float(metadata={"description": "‖H∇L‖ / (max|λ|·‖∇L‖)"})
    n_negative = fields.Integer(metadata={"description": "eigenvalues < -eig_tol·max|λ|"})
    n_zero = fields.Integer(metadata={"description": "eigenvalues with |λ| <= eig_tol·max|λ|"})
    min_eigenvalue = fields.Float(metadata={"description": "smallest Hessian eigenvalue"})
    max_eigenvalue = fields.Float(metadata={"description": "largest Hessian eigenvalue"})
    iterations = fields.Integer(metadata={"description": "Newton-MR iterations used"})
    start_loss = fields.Float(metadata={"description": "the objective where the search started"})
    start_steps = fields.Integer(metadata={"description": "GD steps before the search"})


class FitSchema(Schema):
    slope = fields.Float(metadata={"description": "index per unit of loss"})
    intercept = fields.Float(metadata={"description": "index at loss 0"})
    r = fields.Float(metadata={"description": "correlation of index and loss"})
    points = fields.Integer(metadata={"description": "critical points fitted"})


class SaddleResponse(Schema):
    experiment = fields.String(metadata={"description": "goe | network"})
    dims = NumberArray(item_type="integer", metadata={"description": "goe: the sizes N"})
    p_minimum = NumberArray(metadata={"description": "goe: fraction of samples with every eigenvalue > 0"})
    stderr = NumberArray(metadata={"description": "goe: its standard error √(p(1 − p)/samples)"})
    upper_95 = NumberArray(metadata={"description": "goe: one-sided 95% Clopper-Pearson upper bound"})
    two_pow_minus_n = NumberArray(metadata={"description": "goe: 2^-N, independent coin flips"})
    exact = fields.List(fields.Float(allow_none=True), metadata={
        "description": "goe: the exact probability where known (N = 1: 0.5, N = 2: (2 − √2)/4), else null"})
    counts = NumberArray(item_type="integer", metadata={"description": "goe: samples that were minima"})
    samples = fields.Integer(metadata={"description": "goe: samples per N"})
    seed = fields.Integer(metadata={"description": "the seed used"})
    points = fields.List(fields.Nested(PointSchema), metadata={"description": "network: one per start"})
    fit = fields.Nested(FitSchema, metadata={"description": "network: index ≈ slope·loss + intercept over the "
                                                            "critical points"})
    kinds = fields.Dict(metadata={"description": "network: how many points of each kind"})
    n_params = fields.Integer(metadata={"description": "network: parameters of the network"})
    settings = fields.Dict(metadata={"description": "network: everything the search used"})
    ignored = fields.List(fields.String(), metadata={
        "description": "fields given that belong to the other experiment: checked, then ignored"})

    @pre_dump
    def _rows(self, data, **kwargs):
        result = data["result"]
        out = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        out["ignored"] = data["ignored"]
        if "kind" in out:  # network: columns -> one object per point
            cols = [f.name for f in dataclasses.fields(result) if f.name in PointSchema._declared_fields]
            out["points"] = [{c: (out[c][i] if c == "kind" else out[c][i].item()) for c in cols}
                             for i in range(len(out["kind"]))]
            out["kinds"] = {k: out["kind"].count(k) for k in KINDS}
            out["experiment"] = "network"
        else:
            out["experiment"] = "goe"
        return out

