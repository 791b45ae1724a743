"""Request pieces every resource shares, generated from the engine's registries where they mirror one.

Nest them in a request (``optimizer = fields.Nested(OptimizerSchema)``); the loaded dict goes
straight to ``engine.resolve_optimizer`` / ``engine.lr_schedule`` / ``engine.clipping.resolve_clip``.
``registry_schema(name, REGISTRY, what)`` builds ``{"name": one of the registry, <every parameter any
entry takes, typed and ranged from its ParamSpec>}`` and refuses a parameter the named entry does
not take; ``params_schema`` does the same for a bare parameter set.

* ``OptimizerSchema``: ``name`` (one of ``engine.optimizers.OPTIMIZERS``) plus torch.optim's
  hyperparameter names as optional typed fields with their ranges, generated from the registry.
  A parameter that the named optimizer does not take is refused here, under its own key (e.g.
  ``momentum`` for ``adam``). Checks that need two values (Nesterov needs momentum > 0 and
  dampening 0; Adam's betas < 1 but Lion's ≤ 1) are the engine's, which answers 422 naming
  ``optimizer.<param>`` the same way.
* ``ScheduleSchema``: the same for ``engine.schedules.SCHEDULES``.
* ``InitSchema``: the same for ``engine.init.INITS`` (weight initializations).
* ``LossParamsSchema``: every loss parameter (``engine.losses.PARAMS``) with its range.
* ``ClipSchema``: exactly one of ``max_norm`` (torch ``clip_grad_norm_``) or ``max_value``
  (``clip_grad_value_``), each > 0.
* ``SurfaceRequest``: the ``surface`` (a registry name) and its ``params`` (a ``ParamMap``), the base of every
  landscape and descent request; ``MinimumSchema``: one row of a response's ``minima``.

Unknown keys are refused (marshmallow's RAISE). Omitted hyperparameters take torch's defaults
in the engine, and the engine echoes the resolved set back.
"""

from __future__ import annotations

import dataclasses

from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates_schema

from engine.init import INITS
from engine.limits import LIMITS
from engine.losses import LOSSES, PARAMS
from engine.optimizers import OPTIMIZERS
from engine.registry import ParamSpec
from engine.schedules import SCHEDULES
from engine.surfaces import SURFACES

from ..fields import FiniteFloat, ParamMap, Seed, limit_range


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


def _field(p: ParamSpec, field_name: str, exclusive_low: bool = False, limit: str | None = None,
           strict_int: bool = True) -> fields.Field:
    """A field for one parameter; ``limit`` (a LIMITS key) is its upper bound, named in the error. A ``seed``
    is a ``Seed`` like every other seed (strict, whatever ``strict_int`` says for the other integers)."""
    meta = {"description": p.doc}
    if p.name == "seed" and p.kind == "int":
        return Seed(metadata=meta)
    rng = None
    if limit is not None:
        rng = limit_range(limit, p.low, LIMITS[limit])
    elif p.low is not None or p.high is not None:
        rng = validate.Range(min=p.low, max=p.high, min_inclusive=not exclusive_low)
        if exclusive_low:
            meta["exclusiveMinimum"] = True  # apispec does not state min_inclusive=False itself
    if p.kind == "float":
        return FiniteFloat(validate=rng, metadata=meta)
    if p.kind == "int":
        return fields.Integer(strict=strict_int, validate=rng, metadata=meta)
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


def registry_schema(schema_name: str, registry, what: str, *, limits: dict[str, str] | None = None,
                    strict_int: bool = True, params=lambda entry: entry.params, bound_shared_only: bool = False
                    ) -> type[Schema]:
    """``name`` (one of ``registry``) and every parameter any entry takes (``params(entry)``), typed and
    ranged; ``limits`` maps a parameter to the LIMITS key that bounds it. ``bound_shared_only``: a parameter
    only some entries take is typed but not ranged here (the engine applies the named entry's range, and
    the document then states no bound that another entry would refuse)."""
    specs = _merged({k: _Params(params(v)) for k, v in registry.items()})
    if bound_shared_only:
        shared = set.intersection(*({p.name for p in params(v)} for v in registry.values()))
        specs = {k: p if k in shared else ParamSpec(k, None, None, None, p.kind, p.doc, p.choices)
                 for k, p in specs.items()}
    limits = limits or {}
    attrs = {
        "name": fields.String(
            required=True,
            validate=validate.OneOf(list(registry)),
            metadata={"description": f"a {what} name from the catalog"},
        ),
        **{k: _field(p, k, limit=limits.get(k), strict_int=strict_int) for k, p in specs.items()},
    }
    return Schema.from_dict(attrs, name=schema_name)


class _Params:
    def __init__(self, params):
        self.params = params


def refuse_foreign(registry, data: dict, what: str) -> None:
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


class OptimizerSchema(registry_schema("OptimizerBase", OPTIMIZERS, "optimizer")):
    """An optimizer and its torch.optim hyperparameters, e.g. ``{"name": "adam", "lr": 0.01}``."""

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        refuse_foreign(OPTIMIZERS, data, "optimizer")


class ScheduleSchema(registry_schema("ScheduleBase", SCHEDULES, "schedule")):
    """A learning-rate schedule and its parameters, e.g. ``{"name": "cosine", "T_max": 100}``."""

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        refuse_foreign(SCHEDULES, data, "schedule")


class InitSchema(registry_schema("InitBase", INITS, "initialization")):
    """A weight initialization and its torch.nn.init parameters, e.g. ``{"name": "normal", "std": 0.1}``."""

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        refuse_foreign(INITS, data, "init")


def params_schema(schema_name: str, specs: dict[str, ParamSpec], strict: set[str], used_by: dict[str, str]):
    """A schema of bare parameters (no name): each typed and ranged from its ParamSpec; ``strict`` ones
    exclude their low bound; ``used_by`` adds who takes it to the description."""
    out = {}
    for k, p in specs.items():
        f = _field(p, k, exclusive_low=k in strict)
        f.metadata["description"] = f"{p.doc}; default {p.default}; used by: {used_by[k]}"
        out[k] = f
    return Schema.from_dict(out, name=schema_name)


LossParamsSchema = params_schema(
    "LossParams", PARAMS, {n for s in LOSSES.values() for n in s.strict_params},
    {n: ", ".join(s.name for s in LOSSES.values() if any(q.name == n for q in s.params)) for n in PARAMS})


class ClipSchema(Schema):
    """Gradient clipping: exactly one of ``max_norm`` or ``max_value`` (``engine.clipping.CLIP_KEYS``)."""

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


class SurfaceRequest(Schema):
    """The surface every landscape and descent request works on."""

    surface = fields.String(required=True, validate=validate.OneOf(sorted(SURFACES)),
                            metadata={"description": "a surface name from the catalog's 'surfaces'"})
    params = ParamMap(load_default=None, allow_none=True,
                      metadata={"description": "surface parameters (see the catalog); defaults fill the rest"})


class MinimumSchema(Schema):
    """One point of a response's ``minima``: the surface's known minima, then points runs discovered."""

    x = fields.Float(metadata={"description": "x of the point"})
    y = fields.Float(metadata={"description": "y of the point"})
    value = fields.Float(metadata={"description": "f(x, y)"})
    known = fields.Boolean(metadata={"description": "listed by the surface (else discovered by a run)"})
    kind = fields.String(metadata={"description": "minimum | saddle | maximum | degenerate (Hessian)"})


class WithMinima(Schema):
    """A response whose result has ``minima`` (m, 3), ``minima_known`` and ``minima_kind``: dumped as rows."""

    minima = fields.List(fields.Nested(MinimumSchema), metadata={"description": "known minima, then discovered points"})

    @pre_dump
    def _minima_rows(self, obj, **kwargs):
        return {**{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, "minima": minima_rows(obj)}


def minima_rows(obj) -> list[dict]:
    """``MinimumSchema`` rows from a result's ``minima``, ``minima_known`` and ``minima_kind``."""
    return [{"x": float(m[0]), "y": float(m[1]), "value": float(m[2]), "known": bool(k), "kind": kind}
            for m, k, kind in zip(obj.minima, obj.minima_known, obj.minima_kind)]
