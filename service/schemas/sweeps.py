"""Schemas of /api/v1/sweeps, and the validation of a sweep body against its kind's own endpoint schema.

A sweep's ``base`` is the body of the endpoint named by ``kind`` (``training/run`` is the body of
``POST /api/v1/training/run``). ``expand`` builds every combination's body (axes are dotted paths into
that body), loads each with the endpoint's own request schema (the one its ``@blp.arguments`` uses,
named by ``engine.sweep_kinds.KINDS[kind].request_schema``), and runs the engine's checks on the
loaded requests, all before anything is submitted. Errors name ``base.<field>`` when the base itself is
wrong, ``axes.<path>`` when an axis value is, and the sweep limits by name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace

from marshmallow import Schema, ValidationError, fields, validate

from engine.errors import EngineInputError
from engine.sweeps import SWEEP_LIMITS, SweepPlan, SweepSpec, check_requests, check_spec, combination_request, \
    seed_paths, split
from engine.sweep_analysis import MAX_ANALYSIS_BOOTSTRAP, check_analysis
from engine.scaling import LOSSES
from engine.sweep_kinds import KINDS

_SCHEMAS: dict[str, Schema] = {}


def request_schema(kind: str) -> Schema:
    """The request schema instance of ``kind``'s endpoint (made once per process)."""
    if kind not in _SCHEMAS:
        module, name = KINDS[kind].request_schema.split(":")
        _SCHEMAS[kind] = getattr(importlib.import_module(module), name)()
    return _SCHEMAS[kind]


# -- requests -----------------------------------------------------------------------------------------------
def _analysis_field(desc: str, **kw):
    return fields.String(validate=validate.Length(1, 200), metadata={"description": desc}, **kw)


def _fit_options() -> dict:
    return {
        "loss": fields.String(load_default="l2", validate=validate.OneOf(LOSSES),
                              metadata={"description": "l2: least squares on the metric; huber: Huber (δ 1e-3) on "
                                                       "its log, as Hoffmann et al."}),
        "bootstrap": fields.Integer(strict=True, load_default=200, validate=validate.Range(0, MAX_ANALYSIS_BOOTSTRAP),
                                    metadata={"description": "refits behind the 95% intervals (0: none)"}),
    }


class HeatmapSchema(Schema):
    x = _analysis_field("an axis path with numeric values (columns)", required=True)
    y = _analysis_field("another such axis (rows)", required=True)
    metric = _analysis_field("a number metric; each cell is its mean over seeds", required=True)


ScalingSchema = Schema.from_dict({
    "x": _analysis_field("an axis with numeric values (dataset.n_train) or a number metric (n_params, for model "
                         "scaling over model.layers)", required=True),
    "metric": _analysis_field("the number metric that scales (final_val_loss, generalization_gap, ...)", required=True),
    "offset": fields.Boolean(load_default=True, metadata={
        "description": "fit y = E + B/x^β (true) or y = B/x^β (false: a quantity that falls to 0, the gap)"}),
    **_fit_options(),
}, name="ScalingAnalysis")

ScalingLawSchema = Schema.from_dict({
    "n": _analysis_field("N: model size, a number metric (n_params) or a numeric axis", required=True),
    "d": _analysis_field("D: data size, e.g. dataset.n_train", required=True),
    "metric": _analysis_field("L, a number metric, e.g. final_val_loss", required=True),
    **_fit_options(),
}, name="ScalingLawAnalysis")


class AnalysisSchema(Schema):
    heatmap = fields.Nested(HeatmapSchema, metadata={"description": "mean of a metric on an x × y grid of two axes"})
    scaling = fields.Nested(ScalingSchema, metadata={"description": "a metric against one quantity, with a power-law "
                                                                    "fit y = E + B/x^β and bootstrap intervals"})
    scaling_law = fields.Nested(ScalingLawSchema, metadata={
        "description": "L(N, D) = E + A/N^α + B/D^β fitted to every run, with bootstrap intervals"})


class SweepSubmit(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)),
                         metadata={"description": "what every run computes: an endpoint path under /api/v1/"})
    base = fields.Dict(keys=fields.String(), required=True,
                       metadata={"description": "the kind's request body, validated by that endpoint's schema"})
    axes = fields.Dict(keys=fields.String(), values=fields.List(fields.Raw()), load_default=dict,
                       metadata={"description": "dotted path into base -> the values it takes; every combination runs "
                                                f"(limits max_sweep_axes={SWEEP_LIMITS['max_sweep_axes']}, "
                                                f"max_sweep_axis_values, max_sweep_combinations)"})
    seeds = fields.List(fields.Integer(strict=True, validate=validate.Range(0, 2**32 - 1)), load_default=None,
                        validate=validate.Length(max=SWEEP_LIMITS["max_sweep_seeds"],
                                                 error="at most {max} seeds (limit max_sweep_seeds)"),
                        metadata={"description": "each combination runs once per seed, the seed written to every "
                                                 "seed field (the catalog's sweeps[].seed_fields); omit to use the "
                                                 "base's own seeds"})
    seed_fields = fields.List(fields.String(), load_default=None,
                              metadata={"description": "only these seed fields take the seed (default: all of the "
                                                       "kind's, e.g. a training run's seed and dataset.seed)"})
    metrics = fields.List(fields.String(), load_default=None,
                          validate=validate.Length(1, SWEEP_LIMITS["max_sweep_metrics"],
                                                   error="between {min} and {max} metrics (limit max_sweep_metrics)"),
                          metadata={"description": "what each run reports (the catalog's sweeps[].metrics); "
                                                   "default: the kind's default_metrics"})
    analysis = fields.Nested(AnalysisSchema, load_default=None, allow_none=True,
                             metadata={"description": "computed when the sweep ends, under 'analysis'"})


# -- responses ----------------------------------------------------------------------------------------------
class SweepAccepted(Schema):
    id = fields.String(metadata={"description": "the job's id"})
    url = fields.String(metadata={"description": "GET it for status and results (also the Location header)"})
    events = fields.String(metadata={"description": "server-sent progress events"})
    total = fields.Integer(metadata={"description": "runs (tasks): combinations × seeds"})
    status = fields.String(metadata={"description": "queued"})
    expires = fields.Float(metadata={"description": "Unix time after which the job and its results are gone"})


class SweepRowSchema(Schema):
    coords = fields.Dict(metadata={"description": "axis path -> value, plus a row's own coordinates (variant, racer, lr)"})
    seed = fields.Integer(allow_none=True, metadata={"description": "null: the base request's own seeds"})
    metrics = fields.Dict(metadata={"description": "metric -> value (null where not finite), a list for curves"})


class AggregateSchema(Schema):
    coords = fields.Dict(metadata={"description": "the group's coordinates"})
    metric = fields.String(metadata={"description": "the metric"})
    kind = fields.String(metadata={"enum": ["number", "category", "curve"], "description": "how it is aggregated"})
    n = fields.Raw(metadata={"description": "runs with a finite value (a list per index for a curve)"})
    mean = fields.Raw(allow_none=True, metadata={"description": "mean over seeds (a list for a curve)"})
    std = fields.Raw(allow_none=True, metadata={"description": "sample standard deviation (ddof 1)"})
    ci95 = fields.Raw(allow_none=True, metadata={
        "description": "[lo, hi]: mean ± t(0.975, n−1)·std/√n, Student's t interval over seeds; null when n < 2"})
    missing = fields.Integer(metadata={"description": "runs without a finite value (number metrics)"})
    counts = fields.Dict(metadata={"description": "category metrics: value -> runs"})


class TaskErrorSchema(Schema):
    task = fields.Integer(metadata={"description": "task index"})
    coords = fields.Dict(metadata={"description": "the task's axis values"})
    seed = fields.Integer(allow_none=True, metadata={"description": "its seed"})
    field = fields.String(metadata={"description": "the request field the engine refused, or 'task'"})
    message = fields.String(metadata={"description": "why"})


class SweepStatus(Schema):
    id = fields.String(metadata={"description": "the job's id"})
    url = fields.String(metadata={"description": "this resource"})
    kind = fields.String(metadata={"description": "what every run computes"})
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed", "cancelled"],
                                     "description": "failed: some run raised or was refused (see errors)"})
    done = fields.Integer(metadata={"description": "runs finished"})
    total = fields.Integer(metadata={"description": "runs in the sweep"})
    created = fields.Float(metadata={"description": "Unix time of submission"})
    expires = fields.Float(metadata={"description": "Unix time after which the job is gone (404)"})
    spec = fields.Dict(metadata={"description": "the validated sweep: kind, axes, seeds, metrics"})
    results = fields.List(fields.Nested(SweepRowSchema), metadata={"description": "finished runs, in task order"})
    aggregates = fields.List(fields.Nested(AggregateSchema), metadata={"description": "per group and metric"})
    errors = fields.List(fields.Nested(TaskErrorSchema), metadata={"description": "runs that failed"})
    analysis = fields.Dict(allow_none=True, metadata={"description": "the requested analyses, once the sweep ended"})


# -- validation ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValidSweep:
    plan: SweepPlan  # the engine's plan: every combination's engine keyword arguments, seed paths, costs
    analysis: dict

    @property
    def spec(self) -> SweepSpec:
        return self.plan.spec


class SweepRefused(Exception):
    """A sweep that is refused with per-field errors (nested like marshmallow's, under ``json``)."""

    def __init__(self, messages: dict):
        super().__init__(messages)
        self.messages = messages


def _flat(messages, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(messages, dict):
        out = []
        for k, v in messages.items():
            out += _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, "; ".join(messages))]
    if isinstance(messages, list):
        return [x for i, m in enumerate(messages) for x in _flat(m, f"{prefix}.{i}")]
    return [(prefix, str(messages))]


def _path_known(schema: Schema | fields.Field, parts: list) -> bool:
    """Whether a dotted path names a field of ``schema`` (through nested schemas, lists, dicts, and fields of
    several shapes: a path is known when one of the shapes ``choose()`` can pick has it)."""
    node = schema
    for i, part in enumerate(parts):
        if isinstance(node, fields.Nested):
            node = node.schema
        if hasattr(node, "choose"):  # e.g. a named dataset or the user's own; a surface name or a formula
            shapes = [v for v in vars(node).values() if isinstance(v, fields.Field)]
            return any(_path_known(shape, parts[i:]) for shape in shapes)
        if isinstance(node, Schema):
            by_key = {f.data_key or name: f for name, f in node.fields.items() if not f.dump_only}
            if isinstance(part, int) or part not in by_key:
                return False
            node = by_key[part]
        elif isinstance(node, fields.List):
            if not isinstance(part, int):
                return False
            node = node.inner
        elif isinstance(node, fields.Dict):
            node = node.value_field or fields.Raw()
        elif isinstance(node, fields.Raw) and type(node) is fields.Raw:
            return True
        else:
            return False
    return True


def _refuse(field: str, message: str):
    raise SweepRefused({field: [message]})


def expand(body: dict) -> ValidSweep:
    """Validate a loaded ``SweepSubmit`` body completely; every task's engine request. Raises SweepRefused."""
    try:
        spec = check_spec(body["kind"], body["axes"], body["seeds"], body["metrics"])
        analysis, extra = check_analysis(spec, body.get("analysis"))
    except EngineInputError as err:
        _refuse(err.field, err.message)
    spec = replace(spec, metrics=spec.metrics + extra)
    schema = request_schema(spec.kind)
    for path, _ in spec.axes:
        if not _path_known(schema, split(path)):
            _refuse(f"axes.{path}", f"unknown parameter path: not a field of a {spec.kind} request")
    requests = []
    for c in range(spec.n_combinations):
        combo = spec.combination(c)
        try:
            loaded = schema.load(combination_request(body["base"], combo))
        except EngineInputError as err:  # an axis index past the end of a list
            _refuse(err.field, err.message)
        except ValidationError as err:
            by_axis, by_base = {}, {}
            for field, msg in _flat(err.messages):
                at = field.removesuffix("._schema")  # a nested schema's own check names its object
                axis = next((p for p in combo if at == p or at.startswith(p + ".") or p.startswith(at + ".")), None)
                if axis is not None:
                    by_axis[axis] = [f"value {combo[axis]!r} (combination {c}): {field}: {msg}"]
                else:
                    by_base[field] = [msg]
            raise SweepRefused({**({"axes": by_axis} if by_axis else {}), **({"base": by_base} if by_base else {})})
        requests.append(loaded)
    try:
        seeds_at = seed_paths(KINDS[spec.kind], [p for p, _ in spec.axes], body.get("seed_fields"), "request",
                              bool(spec.seeds))
        budget, shares = check_requests(spec, requests, seeds_at)
    except EngineInputError as err:
        _refuse(err.field, err.message)
    return ValidSweep(SweepPlan(spec, tuple(requests), seeds_at, budget, shares), analysis)

