"""Sweeps: many runs of one computable kind across axes × seeds, planned and checked here, run on Dask.

A sweep is data (STYLE 17): a kind (``engine.sweep_kinds.KINDS``), a base request, axes (dotted
parameter paths, each with its values) and seeds. Every combination of axis values runs once per
seed; each run is a pure function of its request, so a run that Dask repeats after a worker died gives
the same numbers, and every result carries its coordinates. ``engine.sweep`` (``engine.sweep_tasks``)
plans with ``plan_sweep`` below, then runs the runs in batches of several per Dask task::

    res = engine.sweep("training/run", base, {"optimizer.lr": [1e-3, 1e-2], "dataset.n_train": [20, 80]},
                       seeds=range(4), metrics=["final_val_loss"])
    res.records()[0]     # {"coords": {"optimizer.lr": 0.001, "dataset.n_train": 20}, "seed": 0, "metrics": {...}}
    res.aggregate("final_val_loss", **{"optimizer.lr": 0.01, "dataset.n_train": 80})   # mean, std, ci95, n

* **Paths** name the engine function's keyword arguments (``optimizer.lr``, ``model.layers``,
  ``optimizers.1.lr``: an integer indexes a list the base already has). Over HTTP they name the
  endpoint's request body fields instead (``noise.seed`` there is ``seed`` here); the service expands
  and validates those with the endpoint's own schema, then calls the same checks.
* **Seeds**: each seed is written into every seed field of the request, the kind's ``seed_fields``
  (a training run: its own ``seed`` and ``dataset.seed``), unless ``seed_fields`` narrows them or an axis
  sets that field itself. No seeds: one run per combination with the base request's own seeds.
* **Validation first**: every combination is checked the way its engine function checks a request
  (``SweepKind.check``: no computation) before any task is submitted; a refusal names ``axes.<path>``
  when an axis value caused it, ``base.<field>`` otherwise, and the sweep limits
  (``engine.limits.SWEEP_LIMITS``) by name.
* **Execution** (``engine.sweep_tasks``): ``client=None`` starts a ``LocalCluster`` (one single-threaded
  worker process per core) for the call; ``"sync"`` runs every run in this process, one after the
  other; a ``distributed.Client`` (or a scheduler address) runs them on that cluster.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import EngineInputError
from .limits import SWEEP_LIMITS, check_max
from .sweep_kinds import CURVE, KINDS, SweepKind, resolve_kind
from .validate import check_int

__all__ = ["SWEEP_LIMITS", "SweepPlan", "SweepSpec", "plan_sweep"]

SEED_MAX = 2**32 - 1
_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)$")


def plain(v):
    """``v`` as plain JSON-like Python (numpy scalars and arrays become numbers and lists)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def canonical(v) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


# -- the description ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSpec:
    """What runs: ``kind`` over every combination of ``axes`` (in order, the last varying fastest), each
    once per seed (the seed varies fastest of all); ``seeds == ()`` means the base request's own seeds."""

    kind: str
    axes: tuple[tuple[str, tuple], ...]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]

    @property
    def n_combinations(self) -> int:
        return math.prod(len(v) for _, v in self.axes)

    @property
    def n_tasks(self) -> int:
        return self.n_combinations * max(1, len(self.seeds))

    def combination(self, c: int) -> dict:
        """Axis path -> value of combination ``c``."""
        out = {}
        for path, values in reversed(self.axes):
            c, k = divmod(c, len(values))
            out[path] = values[k]
        return dict(reversed(list(out.items())))

    def task(self, i: int) -> tuple[int, int | None]:
        """(combination, seed) of task ``i``."""
        return task_of(i, self.seeds)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "axes": {p: list(v) for p, v in self.axes}, "seeds": list(self.seeds),
                "metrics": list(self.metrics)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "SweepSpec":
        return cls(d["kind"], tuple((p, tuple(v)) for p, v in d["axes"].items()), tuple(d["seeds"]),
                   tuple(d["metrics"]))


def split(path: str) -> list[str | int]:
    return [int(s) if s.isdigit() else s for s in path.split(".")]


def check_spec(kind, axes, seeds, metrics) -> SweepSpec:
    """The sweep's shape (not yet its requests): kind, axes, seeds and metrics, within the limits."""
    k = resolve_kind(kind)
    axes = {} if axes is None else axes
    if not isinstance(axes, Mapping):
        raise EngineInputError("axes", "must be an object: dotted path -> list of values")
    check_max("axes", len(axes), "max_sweep_axes")
    out_axes = []
    for path, values in axes.items():
        field = f"axes.{path}"
        if not isinstance(path, str) or not path or not all(_SEGMENT.match(s) for s in path.split(".")):
            raise EngineInputError(field, "must be a dotted path of names and list indices, e.g. optimizer.lr")
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
            raise EngineInputError(field, "must be a list of values")
        if len(values) == 0:
            raise EngineInputError(field, "must hold at least one value")
        check_max(field, len(values), "max_sweep_axis_values")
        vals = tuple(plain(v) for v in values)
        seen = set()
        for i, v in enumerate(vals):
            key = canonical(v)
            if key in seen:
                raise EngineInputError(f"{field}.{i}", f"duplicate value {v!r}")
            seen.add(key)
        out_axes.append((path, vals))
    paths = [p for p, _ in out_axes]
    for a in paths:
        for b in paths:
            if a != b and b.startswith(a + "."):
                raise EngineInputError(f"axes.{b}", f"lies inside axis {a!r}, which sets the whole of it")
    combos = math.prod(len(v) for _, v in out_axes)
    check_max("axes", combos, "max_sweep_combinations")
    seeds = check_seeds(seeds)
    check_max("seeds", combos * max(1, len(seeds)), "max_sweep_tasks")
    return SweepSpec(k.name, tuple(out_axes), seeds, check_metrics(k, metrics))


def check_seeds(seeds) -> tuple[int, ...]:
    if seeds is None:
        return ()
    if isinstance(seeds, (str, bytes, Mapping)) or not hasattr(seeds, "__iter__"):
        raise EngineInputError("seeds", "must be a list of integers")
    seeds = [plain(s) for s in seeds]
    check_max("seeds", len(seeds), "max_sweep_seeds")
    for i, s in enumerate(seeds):
        if check_int(f"seeds.{i}", s, 0, integral_floats=False) > SEED_MAX:
            raise EngineInputError(f"seeds.{i}", f"must be <= {SEED_MAX}")
    if len(set(seeds)) != len(seeds):
        raise EngineInputError("seeds", "must not repeat a seed")
    return tuple(seeds)


def check_metrics(k: SweepKind, metrics) -> tuple[str, ...]:
    if metrics is None:
        return k.default_metrics
    if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__"):
        raise EngineInputError("metrics", "must be a list of metric names")
    metrics = list(metrics)
    if not metrics:
        raise EngineInputError("metrics", "must name at least one metric")
    check_max("metrics", len(metrics), "max_sweep_metrics")
    names = [m.name for m in k.metrics]
    for i, m in enumerate(metrics):
        if m not in names:
            raise EngineInputError(f"metrics.{i}", f"unknown metric {m!r} for {k.name}; choose from: {', '.join(names)}")
    if len(set(metrics)) != len(metrics):
        raise EngineInputError("metrics", "must not repeat a metric")
    return tuple(metrics)


# -- building requests ------------------------------------------------------------------------------------
def set_path(obj: dict, path: str, value, field: str) -> None:
    """Write ``value`` at ``path`` inside ``obj`` (in place): missing objects are created; a list index
    must exist in the list already."""
    parts = split(path)
    node = obj
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                where = ".".join(map(str, parts[:i])) or "the request"
                raise EngineInputError(field, f"{where} has no element {part} to set")
        elif not isinstance(node, dict):
            raise EngineInputError(field, f"{'.'.join(map(str, parts[:i]))} is not an object")
        if last:
            node[part] = copy.deepcopy(value)
        else:
            if isinstance(node, dict) and node.get(part) is None:
                node[part] = {}
            node = node[part]


def combination_request(base: Mapping, combo: Mapping) -> dict:
    req = copy.deepcopy(dict(base))
    for path, value in combo.items():
        set_path(req, path, value, f"axes.{path}")
    return req


def seed_paths(k: SweepKind, axis_paths: Sequence[str], seed_fields=None, space: str = "engine",
               seeded: bool = True) -> tuple[str, ...]:
    """The engine argument paths each seed is written to. ``space`` says what ``axis_paths`` and
    ``seed_fields`` name: ``"engine"`` arguments (Python) or ``"request"`` body fields (HTTP). With
    ``seeded`` (the sweep has seeds) there must be one: else every seed would rerun the same request."""
    pairs = list(k.seed_fields.items())  # (request path, engine path)
    names = [e if space == "engine" else r for r, e in pairs]
    if seed_fields is not None:
        if isinstance(seed_fields, (str, bytes)) or not hasattr(seed_fields, "__iter__"):
            raise EngineInputError("seed_fields", "must be a list of field paths")
        for i, f in enumerate(seed_fields):
            if f not in names:
                raise EngineInputError(f"seed_fields.{i}", f"{f!r} is not a seed field of {k.name}; "
                                                            f"choose from: {', '.join(names) or 'none'}")
        chosen = set(seed_fields)
    else:
        chosen = set(names)

    def covered(p: str) -> bool:
        return any(p == a or p.startswith(a + ".") for a in axis_paths)

    out = tuple(e for (r, e), n in zip(pairs, names) if n in chosen and not covered(n))
    if seeded and not out:
        why = "no seed field" if not pairs else "no seed field left that an axis does not set"
        raise EngineInputError("seeds", f"{k.name} has {why} ({', '.join(names) or 'none'}): every seed would "
                                        "rerun the same request; omit seeds")
    return out


def task_of(i: int, seeds: Sequence[int]) -> tuple[int, int | None]:
    """(combination, seed) of task ``i``: a combination's seeds are consecutive tasks (no seeds: one task each)."""
    if not seeds:
        return i, None
    c, s = divmod(i, len(seeds))
    return c, seeds[s]


def with_seed(request: dict, paths: Sequence[str], seed: int | None) -> dict:
    if seed is None or not paths:
        return request
    req = copy.deepcopy(request)
    for p in paths:
        set_path(req, p, seed, "seeds")
    return req


def reroot(err: EngineInputError, combo: Mapping, index: int) -> EngineInputError:
    """An engine refusal of combination ``index``, named after the axis that caused it, else the base."""
    for path, value in combo.items():
        if err.field == path or err.field.startswith(path + ".") or path.startswith(err.field + "."):
            return EngineInputError(f"axes.{path}", f"value {value!r} (combination {index}): {err.field}: {err.message}")
    suffix = f" (combination {index}: {canonical(combo)})" if combo else ""
    return EngineInputError(f"base.{err.field}", err.message + suffix)


def check_requests(spec: SweepSpec, requests: Sequence[dict], seed_fields: Sequence[str]) -> tuple[float, tuple]:
    """Check every combination's request like its engine function would: the sweep's budget use, and
    each combination's share of the kind's largest single request (what a run is expected to cost)."""
    k = KINDS[spec.kind]
    seed = spec.seeds[0] if spec.seeds else None
    curves = sum(k.metric(m).kind == CURVE for m in spec.metrics)
    budget, values, shares = 0.0, 0, []
    for c, req in enumerate(requests):
        try:
            shares.append(float(k.check(with_seed(req, seed_fields, seed))))
            budget += shares[-1]
        except EngineInputError as err:
            raise reroot(err, spec.combination(c), c) from None
        rows, points = k.size(req)
        values += rows * (len(spec.metrics) - curves + curves * points)
    budget *= max(1, len(spec.seeds))
    values *= max(1, len(spec.seeds))
    if values > SWEEP_LIMITS["max_sweep_values"]:
        raise EngineInputError("metrics", f"the results would hold {values:,} numbers, over limit max_sweep_values="
                                          f"{SWEEP_LIMITS['max_sweep_values']:,}; drop curve metrics, or sweep less")
    if budget > SWEEP_LIMITS["max_sweep_budget"]:
        raise EngineInputError("axes", f"the sweep's work, {budget:.4g} maximal requests of {spec.kind} (Σ over "
                                       f"its runs of each run's share of the single-request budget), exceeds limit "
                                       f"max_sweep_budget={SWEEP_LIMITS['max_sweep_budget']}; "
                                       "use fewer combinations, seeds or smaller runs")
    return budget, tuple(shares)


@dataclass(frozen=True)
class SweepPlan:
    spec: SweepSpec
    requests: tuple[dict, ...]  # one per combination, engine keyword arguments, seeds not yet written
    seed_paths: tuple[str, ...]
    budget: float
    shares: tuple[float, ...] = ()  # per combination: its share of the kind's largest single request

    def task_request(self, i: int) -> dict:
        c, seed = self.spec.task(i)
        return with_seed(self.requests[c], self.seed_paths, seed)


def plan_sweep(kind: str, base: Mapping[str, Any], axes: Mapping[str, Sequence[Any]] | None = None,
               seeds: Sequence[int] | None = None, metrics: Sequence[str] | None = None,
               seed_fields: Sequence[str] | None = None) -> SweepPlan:
    """Validate a Python sweep (engine argument paths) completely, before anything runs (``sweep``'s arguments).

    >>> base = {"surface": "quadratic", "start": [1.0, 1.0], "steps": 3, "noise_scale": 0.1,
    ...         "optimizer": {"name": "sgd", "lr": 0.1}}
    >>> p = engine.plan_sweep("descent/trajectory", base, {"optimizer.lr": [0.01, 0.1]}, seeds=[0, 1])
    >>> p.spec.n_combinations, p.spec.n_tasks
    (2, 4)
    """
    spec = check_spec(kind, axes, seeds, metrics)
    k = KINDS[spec.kind]
    if not isinstance(base, Mapping):
        raise EngineInputError("base", "must be a mapping of the engine function's keyword arguments")
    base = plain(base)
    for name in base:
        if name not in k.arguments:
            raise EngineInputError(f"base.{name}", f"not an argument of {k.name}; accepted: {', '.join(k.arguments)}")
    for path, _ in spec.axes:
        if split(path)[0] not in k.arguments:
            raise EngineInputError(f"axes.{path}", f"unknown parameter path; {k.name} takes: {', '.join(k.arguments)}")
    paths = seed_paths(k, [p for p, _ in spec.axes], seed_fields, "engine", bool(spec.seeds))
    requests = tuple(combination_request(base, spec.combination(c)) for c in range(spec.n_combinations))
    budget, shares = check_requests(spec, requests, paths)
    return SweepPlan(spec, requests, paths, budget, shares)


def _warmup() -> None:
    """Planning a sweep of every kind's example (running it: ``engine.sweep_tasks``)."""
    for name, k in KINDS.items():
        plan_sweep(name, k.example)
