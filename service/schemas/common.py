"""Reusable request pieces for optimizers, learning-rate schedules and gradient clipping.

Nest them in a request (``optimizer = fields.Nested(OptimizerSchema)``); the loaded dict goes
straight to ``engine.resolve_optimizer`` / ``engine.lr_schedule`` / ``engine.trajectory``'s clip.

* ``OptimizerSchema``: ``name`` (one of ``engine.optimizers.OPTIMIZERS``) plus torch.optim's
  hyperparameter names as optional typed fields with their ranges, generated from the registry.
  A parameter that the named optimizer does not take is refused here, under its own key (e.g.
  ``momentum`` for ``adam``). Checks that need two values (Nesterov needs momentum > 0 and
  dampening 0; Adam's betas < 1 but Lion's ≤ 1) are the engine's, which answers 422 naming
  ``optimizer.<param>`` the same way.
* ``ScheduleSchema``: the same for ``engine.schedules.SCHEDULES``.
* ``ClipSchema``: exactly one of ``max_norm`` (torch ``clip_grad_norm_``) or ``max_value``
  (``clip_grad_value_``), each > 0.

Unknown keys are refused (marshmallow's RAISE). Omitted hyperparameters take torch's defaults
in the engine, and the engine echoes the resolved set back.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.limits import LIMITS
from engine.optimizers import OPTIMIZERS
from engine.registry import ParamSpec
from engine.schedules import SCHEDULES

from ..fields import FiniteFloat


def _merged(registry) -> dict[str, ParamSpec]:
    """One ParamSpec per parameter name across a registry: the loosest range any entry allows."""
    out: dict[str, ParamSpec] = {}
    for entry in registry.values():
        for p in entry.params:
            q = out.get(p.name)
            if q is None:
                out[p.name] = p
                continue
            low = None if q.low is None or p.low is None else min(q.low, p.low)
            high = None if q.high is None or p.high is None else max(q.high, p.high)
            out[p.name] = ParamSpec(p.name, None, low, high, p.kind, q.doc, q.choices or p.choices)
    return out


def _field(p: ParamSpec, field_name: str) -> fields.Field:
    meta = {"description": p.doc}
    rng = validate.Range(min=p.low, max=p.high) if (p.low is not None or p.high is not None) else None
    if p.kind == "float":
        return FiniteFloat(validate=rng, metadata=meta)
    if p.kind == "int":
        return fields.Integer(strict=True, validate=rng, metadata=meta)
    if p.kind == "bool":
        return fields.Boolean(metadata=meta)
    if p.kind == "choice":
        return fields.String(validate=validate.OneOf(p.choices), metadata=meta)
    if p.kind == "pair":
        return fields.List(FiniteFloat(validate=rng), validate=validate.Length(equal=2), metadata=meta)
    if p.kind == "list":
        limit = f"max_schedule_{field_name}"
        return fields.List(
            fields.Integer(strict=True, validate=rng),
            validate=validate.Length(max=LIMITS[limit], error=f"at most {{max}} entries (limit {limit})"),
            metadata=meta,
        )
    raise AssertionError(f"no field for kind {p.kind!r}")


def _registry_schema(schema_name: str, registry, what: str) -> type[Schema]:
    specs = _merged(registry)
    attrs = {
        "name": fields.String(
            required=True,
            validate=validate.OneOf(list(registry)),
            metadata={"description": f"a {what} name from the catalog"},
        ),
        **{k: _field(p, k) for k, p in specs.items()},
    }
    return Schema.from_dict(attrs, name=schema_name)


def _refuse_foreign(registry, data: dict, what: str) -> None:
    entry = registry.get(data.get("name"))
    if entry is None:
        return
    allowed = {p.name for p in entry.params}
    foreign = sorted(set(data) - allowed - {"name"})
    if foreign:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise ValidationError(
            {k: [f"not a parameter of {what} {entry.name!r}; accepted: {accepted}"] for k in foreign}
        )


class OptimizerSchema(_registry_schema("OptimizerBase", OPTIMIZERS, "optimizer")):
    """An optimizer and its torch.optim hyperparameters, e.g. ``{"name": "adam", "lr": 0.01}``."""

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        _refuse_foreign(OPTIMIZERS, data, "optimizer")


class ScheduleSchema(_registry_schema("ScheduleBase", SCHEDULES, "schedule")):
    """A learning-rate schedule and its parameters, e.g. ``{"name": "cosine", "T_max": 100}``."""

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        _refuse_foreign(SCHEDULES, data, "schedule")


class ClipSchema(Schema):
    """Gradient clipping: exactly one of ``max_norm`` or ``max_value``."""

    max_norm = FiniteFloat(
        validate=validate.Range(min=0.0, min_inclusive=False),
        metadata={"description": "torch clip_grad_norm_: g *= min(1, max_norm/(‖g‖ + 1e-6))"},
    )
    max_value = FiniteFloat(
        validate=validate.Range(min=0.0, min_inclusive=False),
        metadata={"description": "torch clip_grad_value_: clamp each entry to [-max_value, max_value]"},
    )

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError("give exactly one of max_norm or max_value", "_schema")
