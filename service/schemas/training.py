"""Schemas of /api/v1/training: datasets, training runs, regularization comparisons, the doctor.

Histories are columnar (one array per quantity, one value per epoch) and dumped through
``NumberArray``: they are numpy arrays, never marshmallow lists.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.activations import ACTIVATIONS
from engine.datasets import DATASETS
from engine.doctor import DIAGNOSES, MIN_EPOCHS
from engine.limits import LIMITS
from engine.tasks import all_fitting_losses
from engine.training_epochs import COLUMNS

from ..fields import FiniteFloat, NumberArray, Seed, limit_range
from .common import ClipSchema, InitSchema, LossParamsSchema, OptimizerSchema, ScheduleSchema, registry_schema

ALL_LOSSES = list(all_fitting_losses())

# -- dataset ------------------------------------------------------------------------------------


# A synthetic dataset, generated from engine.datasets.DATASETS: the name and every parameter some dataset takes
# (which extras apply depends on ``name``: the engine refuses one the named dataset does not take).
DatasetSchema = registry_schema("Dataset", DATASETS, "dataset", strict_int=False, bound_shared_only=True,
                                limits={"n_train": "max_train_samples", "n_val": "max_val_samples"})


class DatasetResponse(Schema):
    name = fields.String(metadata={"description": "the dataset's name"})
    task = fields.String(metadata={"description": "regression | classification"})
    n_classes = fields.Integer(metadata={"description": "0 for regression"})
    params = fields.Dict(metadata={"description": "the parameters used, defaults included"})
    domain = NumberArray(ndim=2, metadata={"description": "[low, high] per input: where predictions are drawn"})
    x_train = NumberArray(ndim=2, attribute="X_train", metadata={"description": "(n_train, n_inputs)"})
    y_train = fields.Method("_y_train", metadata={"type": "array", "items": {"type": "number"},
                                                  "description": "targets, or class indices"})
    x_val = NumberArray(ndim=2, attribute="X_val", metadata={"description": "(n_val, n_inputs)"})
    y_val = fields.Method("_y_val", metadata={"type": "array", "items": {"type": "number"},
                                              "description": "validation targets, or class indices"})

    @staticmethod
    def _flat(d, Y):
        y = Y[:, 0]
        return y.astype("int64") if d.task == "classification" else y

    def _y_train(self, d):
        return self._flat(d, d.Y_train)

    def _y_val(self, d):
        return self._flat(d, d.Y_val)


# -- doctor -------------------------------------------------------------------------------------


def _loss_curve(**kwargs) -> NumberArray:
    """A list of numbers, one per epoch; ``null`` stands for a NaN/inf a user's log recorded."""
    return NumberArray(nullable=True, min_items=MIN_EPOCHS, max_items=(LIMITS["max_doctor_epochs"], "max_doctor_epochs"),
                       **kwargs)


class DiagnoseRequest(Schema):
    train_loss = _loss_curve(required=True, metadata={"description": "training loss per epoch"})
    val_loss = _loss_curve(metadata={"description": "validation loss per epoch, same length"})


class TreeNode(Schema):
    node = fields.String(metadata={"description": "non_finite | growth | spike | plateau | noisy | overfitting | "
                                                  "still_falling | high_level"})
    question = fields.String(metadata={"description": "the node's question, with its threshold"})
    answer = fields.Boolean(metadata={"description": "the node's answer; the first true one decides the diagnosis"})
    numbers = fields.Dict(metadata={"description": "the values and threshold the answer used"})


class DiagnoseResponse(Schema):
    diagnosis = fields.String(metadata={"enum": list(DIAGNOSES),
                                        "description": "the first node answering yes decides; converged if none"})
    evidence = fields.Dict(metadata={"description": "epochs (1-based) and values behind the diagnosis"})
    action = fields.String(metadata={"description": "the recommended next step"})
    tree = fields.List(fields.Nested(TreeNode), metadata={"description": "the path taken, root first"})


# -- training runs ------------------------------------------------------------------------------


class ModelSchema(Schema):
    """An MLP (engine.mlp): widths from input to output; dropout lives in ``regularization``."""

    layers = fields.List(
        fields.Integer(strict=True, validate=limit_range("max_width", 1, LIMITS["max_width"])),
        required=True,
        validate=validate.Length(min=2, max=LIMITS["max_layers"] + 1,
                                 error="between {min} and {max} widths (limit max_layers)"),
        metadata={"description": "widths, input first (1 for regression sets, 2 for classification), "
                                 "output last (1, or n_classes for softmax)"},
    )
    activation = fields.String(validate=validate.OneOf(sorted(ACTIVATIONS)), metadata={"description": "hidden layers"})
    activation_params = fields.Dict(keys=fields.String(), values=FiniteFloat(),
                                    metadata={"description": "the hidden activation's parameter: "
                                                             "{'negative_slope': ...} for leaky_relu, {'alpha': ...} "
                                                             "for elu"})
    output_activation = fields.String(validate=validate.OneOf(sorted(ACTIVATIONS)),
                                      metadata={"description": "output layer; default identity (the losses "
                                                               "take raw outputs: values, scores or logits)"})
    residual = fields.Boolean(metadata={"description": "skip connections a_l = a_(l-1) + act(z_l) on hidden "
                                                       "layers 2.. whose input and output widths are equal; "
                                                       "default false"})
    batch_norm = fields.Boolean(metadata={"description": "BatchNorm1d between the linear map and the activation on "
                                                         "every hidden layer; default false"})
    init = fields.Nested(InitSchema, metadata={"description": "default torch_default (nn.Linear's)"})


class RegularizationSchema(Schema):
    l1 = FiniteFloat(validate=validate.Range(0.0, 10.0), metadata={"description": "loss + l1·Σ|W| (weights only)"})
    l2 = FiniteFloat(validate=validate.Range(0.0, 10.0), metadata={"description": "loss + l2·ΣW² (weights only)"})
    dropout = FiniteFloat(validate=validate.Range(0.0, 0.95), metadata={"description": "hidden-unit drop probability"})
    weight_decay = FiniteFloat(validate=validate.Range(0.0, 10.0),
                               metadata={"description": "replaces the optimizer's weight_decay"})


class EarlyStoppingSchema(Schema):
    patience = fields.Integer(strict=True, validate=validate.Range(0, 100_000),
                              metadata={"description": "epochs without improvement before stopping; default 10 "
                                                       "(0 acts as 1, as in Keras)"})
    min_delta = FiniteFloat(validate=validate.Range(0.0, 1e6),
                            metadata={"description": "an epoch improves when val_loss < best - min_delta; default 0"})
    restore_best_weights = fields.Boolean(metadata={"description": "end with the best epoch's weights; default true"})


class PredictionRequest(Schema):
    points = fields.Integer(strict=True, validate=limit_range("max_prediction_axis", 2, LIMITS["max_prediction_axis"]),
                            metadata={"description": "regression: points of the fitted curve; default 200 "
                                                     "(limit max_prediction_axis)"})
    grid = fields.Integer(strict=True, validate=limit_range("max_prediction_axis", 2, LIMITS["max_prediction_axis"]),
                          metadata={"description": "classification: points per axis of the decision surface; "
                                                   "default 64 (limit max_prediction_axis)"})


class RunRequest(Schema):
    """One training run (also the body of /stream, and the shared part of /compare)."""

    dataset = fields.Nested(DatasetSchema, required=True,
                            metadata={"description": "the synthetic dataset to train and validate on"})
    model = fields.Nested(ModelSchema, required=True, metadata={"description": "the MLP to train"})
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "default Adam with torch's defaults (lr 1e-3)"})
    schedule = fields.Nested(ScheduleSchema, allow_none=True, metadata={"description": "stepped once per epoch"})
    regularization = fields.Nested(RegularizationSchema,
                                   metadata={"description": "l1, l2, dropout, weight_decay; default none "
                                                            "(/compare: the base each variant overrides)"})
    epochs = fields.Integer(strict=True, load_default=100,
                            validate=limit_range("max_epochs", 1, LIMITS["max_epochs"]),
                            metadata={"description": "passes over the training split (limit max_epochs)"})
    batch_size = fields.Integer(strict=True, load_default=32,
                                validate=limit_range("max_batch", 1, LIMITS["max_batch"]),
                                metadata={"description": "rows per mini-batch; the last one may be smaller "
                                                         "(limit max_batch)"})
    early_stopping = fields.Nested(EarlyStoppingSchema, allow_none=True,
                                   metadata={"description": "Keras EarlyStopping on val_loss; omit to train all epochs"})
    clip = fields.Nested(ClipSchema, allow_none=True,
                         metadata={"description": "clip each mini-batch gradient before the optimizer step; "
                                                  "omit for none"})
    loss = fields.String(validate=validate.OneOf(ALL_LOSSES),
                         metadata={"description": "default: mse, bce_with_logits (1 output) or cross_entropy_with_logits"})
    loss_params = fields.Nested(LossParamsSchema,
                                metadata={"description": "parameters of the loss; defaults fill the rest"})
    seed = Seed(load_default=0, metadata={"description": "seeds the initial weights, the mini-batch shuffles and dropout"})
    prediction = fields.Nested(PredictionRequest, metadata={"description": "resolution of the drawn prediction"})


HistorySchema = Schema.from_dict(
    {c: NumberArray(ndim=1, metadata={"description": f"{c} per epoch"}) for c in COLUMNS}, name="TrainingHistory")


class PredictionSchema(Schema):
    kind = fields.String(metadata={"description": "line (regression) | grid (classification)"})
    x = NumberArray(ndim=1, metadata={"description": "line: inputs; grid: x axis"})
    y = NumberArray(ndim=1, metadata={"description": "line: the network's output; grid: y axis"})
    label = NumberArray(ndim=2, allow_none=True, metadata={"description": "grid [ny, nx]: predicted class"})
    confidence = NumberArray(ndim=2, allow_none=True,
                             metadata={"description": "grid [ny, nx]: probability of the predicted class"})
    finite = fields.Boolean(metadata={"description": "false if some network output was not finite (drawn as 0)"})


def _run_fields(prefix: str = "") -> dict:
    """A run's response fields; with ``prefix`` ("result.") they read a VariantResult's ``result``."""

    def kw(name):
        return {"attribute": prefix + name} if prefix else {}

    return {
        "history": fields.Nested(HistorySchema, **kw("history"),
                                 metadata={"description": "columnar, row e = epoch e + 1; accuracies empty for regression"}),
        "best_epoch": fields.Integer(**kw("best_epoch"), metadata={
            "description": "epoch (1-based) of the lowest val_loss (min_delta applies with early stopping); "
                           "0 if none"}),
        "stopped_epoch": fields.Integer(**kw("stopped_epoch"), metadata={
            "description": "epoch training stopped in: epochs_run, or after divergence the epoch that diverged"}),
        "epochs_run": fields.Integer(**kw("epochs_run"), metadata={"description": "completed epochs: rows of history"}),
        "stop_reason": fields.String(**kw("stop_reason"), metadata={
            "enum": ["completed", "early_stopping", "diverged"],
            "description": "diverged: a non-finite loss or gradient (history keeps the completed epochs)"}),
        "restored_best": fields.Boolean(**kw("restored_best"), metadata={
            "description": "the returned weights are the best epoch's (early_stopping.restore_best_weights)"}),
        "final_train_loss": fields.Float(allow_none=True, **kw("final_train_loss"), metadata={
            "description": "data loss (no penalty, eval mode) of the returned weights on the training split; "
                           "null if not finite"}),
        "final_val_loss": fields.Float(allow_none=True, **kw("final_val_loss"), metadata={
            "description": "the same on the validation split"}),
        "final_train_accuracy": fields.Float(allow_none=True, **kw("final_train_accuracy"), metadata={
            "description": "fraction of training points classified right by the returned weights; "
                           "null for regression"}),
        "final_val_accuracy": fields.Float(allow_none=True, **kw("final_val_accuracy"), metadata={
            "description": "the same on the validation split; null for regression"}),
        "prediction": fields.Nested(PredictionSchema, **kw("prediction"), metadata={
            "description": "the returned weights' fitted curve (regression) or decision surface (classification)"}),
        "settings": fields.Dict(**kw("settings"), metadata={"description": "the resolved request"}),
    }


RunResponse = Schema.from_dict(_run_fields(), name="RunResponse")


class VariantSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 64),
                         metadata={"description": "the variant's label, unique within the request"})
    regularization = fields.Nested(RegularizationSchema,
                                   metadata={"description": "overrides the request's regularization key by key"})


class CompareRequest(RunRequest):
    variants = fields.List(
        fields.Nested(VariantSchema), required=True,
        validate=validate.Length(1, LIMITS["max_compare_variants"],
                                 error="between {min} and {max} variants (limit max_compare_variants)"),
        metadata={"description": "each variant's regularization overrides the shared one key by key"},
    )


VariantRunSchema = Schema.from_dict({
    "name": fields.String(metadata={"description": "the variant's label"}),
    "regularization": fields.Dict(metadata={"description": "the regularization used: l1, l2, dropout and the "
                                                           "optimizer's weight_decay"}),
    "gap": fields.Float(allow_none=True, metadata={"description": "final_val_loss - final_train_loss (returned weights)"}),
    "gap_last_epoch": fields.Float(allow_none=True, metadata={
        "description": "val_loss - train_loss of the last history row; null if no epoch completed"}),
    "gap_at_best": fields.Float(allow_none=True, metadata={
        "description": "val_loss - train_loss at best_epoch; null if no epoch completed"}),
    **_run_fields("result."),
}, name="VariantRun")


class CompareResponse(Schema):
    runs = fields.List(fields.Nested(VariantRunSchema), metadata={"description": "in request order"})
