"""Schemas of /api/v1/networks: backprop laid open, gradient profiles, network loss landscapes.

Conventions: ``W`` has shape [inputs, outputs] (torch's Linear weight transposed); ``layers`` lists
widths from input to output; a profile's ``depth`` counts weight layers. Names (activations, inits,
losses, datasets) are checked against the engine's registries; limits are named in every refusal.
Records and grids are numpy arrays dumped through ``NumberArray``. Non-finite values never appear:
overflow is a ``status`` (see each response).
"""

from __future__ import annotations

import dataclasses

from marshmallow import Schema, fields, pre_dump, validate

from engine.activations import ACTIVATIONS
from engine.gradient_profile import DEFAULT_INIT, RULE
from engine.limits import LIMITS
from engine.losses import LOSSES
from engine.datasets import DATASETS
from engine.network_landscape import LANDSCAPE_DATASETS

from ..fields import FiniteFloat, NumberArray, ParamMap, Seed, limit_range
from .common import ClipSchema, InitSchema, OptimizerSchema, registry_schema

_ACTS = list(ACTIVATIONS)
_WIDTH = (LIMITS["max_width"], "max_width")


def _layers(required: bool = True, **kwargs):
    n = LIMITS["max_layers"]
    return fields.List(
        fields.Integer(strict=True, validate=limit_range("max_width", 1, LIMITS["max_width"])),
        required=required,
        validate=validate.Length(min=2, max=n + 1,
                                 error=f"must list between {{min}} and {{max}} widths: at most {n} weight layers "
                                       "(limit max_layers)"),
        metadata={"description": "widths from input to output, e.g. [2, 4, 4, 1] (limits max_layers, max_width)"},
        **kwargs,
    )


def _activation(default: str, **meta):
    return fields.String(load_default=default, validate=validate.OneOf(_ACTS),
                         metadata={"description": "hidden-layer activation from the catalog's 'activations'", **meta})


_RESIDUAL_DOC = ("skip connections a_l = a_(l-1) + act(z_l) on hidden layers 2.. whose input and output widths "
                 "are equal")

_ACT_PARAMS = dict(load_default=None, allow_none=True,
                   metadata={"description": "the activation's parameter: {'negative_slope': ...} for leaky_relu, "
                                            "{'alpha': ...} for elu"})


_SAMPLES = (LIMITS["max_backprop_samples"], "max_backprop_samples")
_SEED = dict(load_default=0, metadata={"description": "seeds every draw"})


# -- backprop -------------------------------------------------------------------------------------


class LayerWeights(Schema):
    W = NumberArray(2, required=True, max_row=_WIDTH, metadata={"description": "[inputs, outputs]"})
    b = NumberArray(required=True, max_row=_WIDTH, metadata={"description": "[outputs]"})
    gamma = NumberArray(max_row=_WIDTH, metadata={"description": "batch-norm scale (hidden layers, batch_norm on)"})
    beta = NumberArray(max_row=_WIDTH, metadata={"description": "batch-norm shift"})


class PathSchema(Schema):
    input = fields.Integer(strict=True, validate=validate.Range(min=0), metadata={"description": "i of W_1[i, j]"})
    unit = fields.Integer(strict=True, validate=validate.Range(min=0), metadata={"description": "j of W_1[i, j]"})
    through = fields.List(fields.Integer(strict=True, validate=validate.Range(min=0)),
                          metadata={"description": "one unit per hidden layer 2..L-1"})
    output = fields.Integer(strict=True, validate=validate.Range(min=0), metadata={"description": "output unit k"})
    sample = fields.Integer(strict=True, validate=validate.Range(min=0), metadata={"description": "row of the batch"})


class BackpropRequest(Schema):
    layers = _layers()
    activation = _activation("sigmoid")
    activation_params = ParamMap(**_ACT_PARAMS)
    output_activation = fields.String(load_default="identity", validate=validate.OneOf(_ACTS),
                                      metadata={"description": "output-layer activation; bce, cross_entropy and "
                                                               "kl_div require sigmoid"})
    init = fields.Nested(InitSchema, load_default=None, allow_none=True,
                         metadata={"description": "default torch_default (nn.Linear's); ignored when weights are given"})
    loss = fields.String(load_default="mse", validate=validate.OneOf(list(LOSSES)),
                         metadata={"description": "a loss name from the catalog's 'losses' (torch's reduction)"})
    loss_params = ParamMap(load_default=None, allow_none=True,
                              metadata={"description": "e.g. {'delta': 1.0} for huber"})
    inputs = NumberArray(2, required=True, max_items=_SAMPLES, max_row=_WIDTH,
                         metadata={"description": "[n, layers[0]] (limit max_backprop_samples)"})
    targets = NumberArray(2, required=True, max_items=_SAMPLES, max_row=_WIDTH,
                          metadata={"description": "[n, layers[-1]]"})
    seed = Seed(**_SEED)
    weights = fields.List(fields.Nested(LayerWeights), load_default=None, allow_none=True,
                          validate=validate.Length(max=LIMITS["max_layers"]),
                          metadata={"description": "set the parameters exactly: one {W, b} per weight layer"})
    path = fields.Nested(PathSchema, load_default=None, allow_none=True,
                         metadata={"description": "the chain-rule path; default all zeros"})
    residual = fields.Boolean(load_default=False, metadata={"description": _RESIDUAL_DOC})
    batch_norm = fields.Boolean(load_default=False, metadata={
        "description": "batch normalization (batch statistics) before the activation on every hidden layer; "
                       "no chain_rule then"})


class ForwardLayer(Schema):
    z = NumberArray(ndim=2, metadata={"description": "pre-activation a_{l-1} W + b, [n, w]"})
    s = NumberArray(ndim=2, metadata={"description": "batch-normalized z (batch_norm only)"})
    a = NumberArray(ndim=2, metadata={"description": "the layer's output, [n, w]"})


class BackwardLayer(Schema):
    da = NumberArray(ndim=2, metadata={"description": "dL/da"})
    dz = NumberArray(ndim=2, metadata={"description": "dL/dz"})
    dW = NumberArray(ndim=2, metadata={"description": "dL/dW = a_{l-1}^T dL/dz"})
    db = NumberArray(ndim=1, metadata={"description": "dL/db = column sums of dL/dz"})
    dgamma = NumberArray(ndim=1, metadata={"description": "dL/dγ (batch_norm, hidden layers only)"})
    dbeta = NumberArray(ndim=1, metadata={"description": "dL/dβ (batch_norm, hidden layers only)"})


class WeightsOut(Schema):
    W = NumberArray(ndim=2, metadata={"description": "[inputs, outputs]"})
    b = NumberArray(ndim=1, metadata={"description": "[outputs]"})
    gamma = NumberArray(ndim=1, metadata={"description": "batch-norm scale (batch_norm, hidden layers only)"})
    beta = NumberArray(ndim=1, metadata={"description": "batch-norm shift (batch_norm, hidden layers only)"})


class Factor(Schema):
    name = fields.String(metadata={"description": "the partial derivative, e.g. ∂L/∂ŷ_k, ∂h2/∂h1, ∂h1/∂w"})
    formula = fields.String(metadata={"description": "how it is computed"})
    value = fields.Float(metadata={"description": "its value for this path and sample"})


class ChainRuleSchema(Schema):
    path = fields.Dict(metadata={"description": "the path used: {input, unit, through, output, sample}"})
    factors = fields.List(fields.Nested(Factor), metadata={"description": "from the output back to the weight"})
    product = fields.Float(metadata={"description": "this path, this sample"})
    path_sum = fields.Float(metadata={"description": "this path summed over the samples"})
    all_paths_sum = fields.Float(metadata={"description": "every path, every sample: equals backprop"})
    backprop = fields.Float(metadata={"description": "dL/dW_1[i, j] from the backward pass"})
    n_paths = fields.Float(metadata={"description": "number of paths from w to the outputs (a float: it can exceed 2^64)"})


class GradCheckSchema(Schema):
    max_rel_error = fields.Float(metadata={
        "description": "max over parameters of |fd - bp| / max(|fd|, |bp|, 1e-3·max|bp|)"})
    max_abs_error = fields.Float(metadata={"description": "max over parameters of |fd - bp|"})
    norm_rel_error = fields.Float(metadata={"description": "‖fd - bp‖ / ‖bp‖"})
    worst = fields.Dict(metadata={
        "description": "the parameter with the largest relative error: {parameter, layer, name, finite_difference, "
                       "backprop}"})
    step = fields.String(metadata={"description": "the finite-difference step and relative-error floor used"})


class CostSchema(Schema):
    forward_s = fields.Float(metadata={"description": "seconds of one forward pass (median of repeats)"})
    backward_s = fields.Float(metadata={"description": "seconds of one backward pass (median of repeats)"})
    finite_difference_s = fields.Float(metadata={
        "description": "seconds of the whole finite-difference gradient (median of up to 3 runs)"})
    backward_over_forward = fields.Float(metadata={"description": "backward_s / forward_s"})
    finite_difference_over_backprop = fields.Float(metadata={
        "description": "finite_difference_s / (forward_s + backward_s)"})
    parameters = fields.Integer(metadata={"description": "P, the number of parameters"})
    forward_passes_fd = fields.Integer(metadata={"description": "forward passes of the finite-difference gradient: 2P"})
    repeats = fields.Integer(metadata={"description": "timed repeats behind forward_s and backward_s"})


class BackpropResponse(Schema):
    status = fields.String(metadata={"enum": ["ok", "overflow"], "description": (
        "overflow: values overflowed float64; forward stops at the last all-finite layer, backward is empty and "
        "loss, output, chain_rule and gradcheck are null")})
    widths = fields.List(fields.Integer(), metadata={"description": "layer widths, input first"})
    parameters = fields.Integer(metadata={"description": "number of parameters (W, b, and γ, β with batch_norm)"})
    loss = fields.Float(allow_none=True, metadata={"description": "the loss of the batch with torch's reduction"})
    output = NumberArray(ndim=2, allow_none=True, metadata={"description": "the network's output ŷ, [n, layers[-1]]"})
    weights = fields.List(fields.Nested(WeightsOut), metadata={"description": "the parameters used"})
    forward = fields.List(fields.Nested(ForwardLayer), metadata={"description": "layer 1 first"})
    backward = fields.List(fields.Nested(BackwardLayer), metadata={"description": "layer 1 first"})
    chain_rule = fields.Nested(ChainRuleSchema, allow_none=True, metadata={
        "description": "dL/dW_1[i, j] along one path, factor by factor; null with batch_norm or on overflow"})
    gradcheck = fields.Nested(GradCheckSchema, allow_none=True, metadata={
        "description": "centered finite differences (fd) against backprop (bp) for every parameter; null on overflow"})
    cost = fields.Nested(CostSchema, metadata={"description": "measured time of backprop against finite differences"})
    notes = fields.List(fields.String(), metadata={"description": "why a part was omitted, if one was"})


# -- gradient profile -----------------------------------------------------------------------------


class ProfileTraining(Schema):
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "default sgd lr 0.1"})
    steps = fields.Integer(strict=True, load_default=100,
                           validate=limit_range("max_profile_steps", 1, LIMITS["max_profile_steps"]),
                           metadata={"description": "full-batch training steps (limit max_profile_steps)"})
    every = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1),
                           metadata={"description": "record every k steps (default steps // 10)"})


class ProfileRequest(Schema):
    depth = fields.Integer(strict=True, load_default=10, validate=limit_range("max_layers", 1, LIMITS["max_layers"]),
                           metadata={"description": "weight layers (limit max_layers)"})
    width = fields.Integer(strict=True, load_default=32, validate=limit_range("max_width", 1, LIMITS["max_width"]),
                           metadata={"description": "units per layer, inputs and outputs too (limit max_width)"})
    activation = _activation("sigmoid")
    activation_params = ParamMap(**_ACT_PARAMS)
    init = fields.Nested(InitSchema, load_default=None, allow_none=True,
                         metadata={"description": f"default {DEFAULT_INIT}"})
    residual = fields.Boolean(load_default=False, metadata={"description": _RESIDUAL_DOC})
    batch_norm = fields.Boolean(load_default=False, metadata={
        "description": "batch normalization (batch statistics) before the activation on every hidden layer "
                       "(batch >= 2)"})
    clip = fields.Nested(ClipSchema, load_default=None, allow_none=True, metadata={
        "description": "gradient clipping: its effect is reported in clip, and training steps use it"})
    batch = fields.Integer(strict=True, load_default=64, validate=limit_range("max_batch", 1, LIMITS["max_batch"]),
                           metadata={"description": "samples (limit max_batch; batch x parameters limit max_network_work)"})
    seed = Seed(**_SEED)
    training = fields.Nested(ProfileTraining, load_default=None, allow_none=True,
                             metadata={"description": "also profile during a short full-batch training run"})


def _layer_rows(p) -> list[dict]:
    rows = []
    after = p.clip.weight_grad_norm_after if p.clip is not None else None
    for l in range(p.depth):
        row = {
            "layer": int(p.layer[l]),
            "weight_grad_norm": float(p.weight_grad_norm[l]),
            "bias_grad_norm": float(p.bias_grad_norm[l]),
            "preactivation_grad_norm": float(p.preactivation_grad_norm[l]),
            "activation_grad_norm": float(p.activation_grad_norm[l]),
            "weight_norm": float(p.weight_norm[l]),
            "activation_mean": float(p.activation_mean[l]),
            "activation_std": float(p.activation_std[l]),
            "overflow": bool(p.overflow[l]),
        }
        if after is not None:
            row["weight_grad_norm_after_clip"] = float(after[l])
        rows.append(row)
    return rows


class ProfileLayer(Schema):
    layer = fields.Integer(metadata={"description": "1 = nearest the input"})
    weight_grad_norm = fields.Float(metadata={"description": "‖dL/dW‖_F"})
    bias_grad_norm = fields.Float(metadata={"description": "‖dL/db‖"})
    preactivation_grad_norm = fields.Float(metadata={"description": "‖dL/dz‖_F: the verdict's measure"})
    activation_grad_norm = fields.Float(metadata={"description": "‖dL/da‖_F of the layer's output"})
    weight_norm = fields.Float(metadata={"description": "‖W‖_F"})
    activation_mean = fields.Float(metadata={"description": "mean of the layer's output a over the batch"})
    activation_std = fields.Float(metadata={"description": "standard deviation of the layer's output a over the batch"})
    overflow = fields.Boolean(metadata={"description": "a value of this layer was not finite (numbers capped at 1e308)"})
    weight_grad_norm_after_clip = fields.Float(
        metadata={"description": "‖dL/dW‖_F after clipping (only with clip)"})


class ClipReportSchema(Schema):
    kind = fields.String(metadata={"description": "max_norm | max_value"})
    threshold = fields.Float(metadata={"description": "the clip's max_norm or max_value"})
    global_norm_before = fields.Float(metadata={"description": "‖g‖ of the whole gradient before clipping"})
    global_norm_after = fields.Float(metadata={"description": "‖g‖ of the whole gradient after clipping"})


class TrainingProfileSchema(Schema):
    optimizer = fields.Dict(metadata={"description": "the optimizer's name and resolved hyperparameters"})
    steps = NumberArray(ndim=1, item_type="integer", metadata={"description": "recorded steps (0 = before training)"})
    loss = NumberArray(ndim=1, metadata={"description": "MSE at each recorded step, before that step's update"})
    weight_grad_norm = NumberArray(ndim=2, metadata={"description": "[records, depth]"})
    preactivation_grad_norm = NumberArray(ndim=2, metadata={"description": "‖dL/dz‖_F, [records, depth]"})
    first_over_last = NumberArray(ndim=1, metadata={"description": "the verdict's ratio at each recorded step"})
    verdict = fields.List(fields.String(),
                          metadata={"description": "vanishing | exploding | stable at each recorded step"})
    status = fields.String(metadata={"enum": ["ok", "diverged"], "description": (
        "diverged: a non-finite value stopped training; the arrays end at the last finite record")})


class ProfileResponse(Schema):
    layers = fields.List(fields.Nested(ProfileLayer), metadata={"description": "layer 1 (nearest the input) first"})
    first_over_last = fields.Float(metadata={"description": "‖dL/dz_1‖ / ‖dL/dz_depth‖ (1e308 if not finite)"})
    verdict = fields.String(metadata={"enum": ["vanishing", "exploding", "stable"], "description": "see rule"})
    rule = fields.String(metadata={"description": RULE})
    status = fields.String(metadata={"enum": ["ok", "overflow"], "description": (
        "overflow: a value was not finite (reported as 1e308); the verdict is then exploding")})
    loss = fields.Float(metadata={"description": "MSE at initialization (1e308 on overflow)"})
    parameters = fields.Integer(metadata={"description": "number of parameters"})
    depth = fields.Integer(metadata={"description": "weight layers"})
    width = fields.Integer(metadata={"description": "units per layer"})
    activation = fields.String(metadata={"description": "hidden-layer activation (the output layer is linear)"})
    init = fields.Dict(metadata={"description": "the initialization's name and resolved parameters"})
    residual = fields.Boolean(metadata={"description": "as requested"})
    batch_norm = fields.Boolean(metadata={"description": "as requested"})
    batch = fields.Integer(metadata={"description": "samples of X, Y ~ N(0, 1)"})
    seed = fields.Integer(metadata={"description": "as requested"})
    clip = fields.Nested(ClipReportSchema, allow_none=True, metadata={
        "description": "the clip's effect on the gradient at initialization; null without clip"})
    training = fields.Nested(TrainingProfileSchema, allow_none=True, metadata={
        "description": "the profile during training; null without training"})

    @pre_dump
    def _rows(self, profile, **kwargs):
        """The engine's per-layer columns as one object per layer (at most max_layers of them)."""
        out = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)}
        out["layers"] = _layer_rows(profile)
        return out


# -- landscape ------------------------------------------------------------------------------------


class LandscapeDatasetSchema(registry_schema(
        "LandscapeDatasetBase", {n: DATASETS[n] for n in LANDSCAPE_DATASETS}, "dataset",
        limits={"n": "max_landscape_samples"}, params=lambda spec: spec.landscape)):
    """A dataset of the network landscape (engine.datasets entries with ``landscape`` parameters)."""

    name = fields.String(load_default="moons", validate=validate.OneOf(list(LANDSCAPE_DATASETS)),
                         metadata={"description": "a dataset the catalog's network_landscape entry lists"})


class LandscapeRequest(Schema):
    layers = _layers(required=False, load_default=[2, 16, 16, 1])
    activation = _activation("tanh")
    activation_params = ParamMap(**_ACT_PARAMS)
    dataset = fields.Nested(LandscapeDatasetSchema, load_default=None, allow_none=True,
                            metadata={"description": "default moons, n 200, noise 0.1"})
    dims = fields.Integer(strict=True, load_default=2, validate=validate.OneOf([1, 2]),
                          metadata={"description": "1: a line along one direction; 2: a plane along two"})
    resolution = fields.Integer(strict=True, load_default=41,
                                validate=limit_range("max_landscape_axis", 2, LIMITS["max_landscape_axis"]),
                                metadata={"description": "points per axis (limit max_landscape_axis)"})
    span = FiniteFloat(load_default=1.0, validate=validate.Range(0.0, 100.0, min_inclusive=False),
                       metadata={"description": "alpha, beta in [-span, span]", "exclusiveMinimum": True})
    seed = Seed(**_SEED)
    init = fields.Nested(InitSchema, load_default=None, allow_none=True,
                         metadata={"description": "default torch_default (nn.Linear's)"})
    loss = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(LOSSES)), metadata={
        "description": "must fit the task; default mse (regression), bce_with_logits (1 output) or "
                       "cross_entropy_with_logits (2 outputs)"})
    residual = fields.Boolean(load_default=False, metadata={"description": _RESIDUAL_DOC})
    batch_norm = fields.Boolean(load_default=False, metadata={
        "description": "batch normalization before the activation on every hidden layer"})
    train_steps = fields.Integer(strict=True, load_default=200, validate=limit_range("max_steps", 0, LIMITS["max_steps"]),
                                 metadata={"description": "full-batch steps before slicing (0: at initialization)"})
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "default adam lr 0.01"})


class LandscapeResponse(Schema):
    alpha = NumberArray(ndim=1, metadata={"description": "α = linspace(-span, span, resolution)"})
    beta = NumberArray(ndim=1, metadata={"description": "empty for a 1-D slice"})
    loss = NumberArray(ndim=2, metadata={"description": "loss[r][c] at (alpha[c], beta[r]); one row when dims = 1"})
    dims = fields.Integer(metadata={"description": "1 or 2, as requested"})
    center_loss = fields.Float(metadata={"description": "the loss at the (trained) parameters θ*, α = β = 0"})
    loss_min = fields.Float(metadata={"description": "smallest finite loss of the grid"})
    loss_max = fields.Float(metadata={"description": "largest finite loss of the grid"})
    overflow = fields.Integer(metadata={"description": "grid points whose loss was not finite (reported as 1e308)"})
    status = fields.String(metadata={"enum": ["ok", "overflow"], "description": "overflow when overflow > 0"})
    widths = fields.List(fields.Integer(), metadata={"description": "layer widths, input first"})
    activation = fields.String(metadata={"description": "hidden-layer activation (the output layer is linear)"})
    loss_name = fields.String(metadata={"description": "the loss used"})
    parameters = fields.Integer(metadata={"description": "number of parameters"})
    dataset = fields.Dict(metadata={"description": "{name, task, n, inputs, params}"})
    train_steps = fields.Integer(metadata={"description": "training steps taken (fewer if training diverged)"})
    train_loss = NumberArray(ndim=1, metadata={"description": "the loss before each training step"})
    train_status = fields.String(metadata={"enum": ["ok", "diverged", "none"],
                                           "description": "none: train_steps was 0"})
    optimizer = fields.Dict(allow_none=True, metadata={
        "description": "the training optimizer's name and resolved hyperparameters; null without training"})
    normalization = fields.String(metadata={"description": "how the directions were scaled"})
