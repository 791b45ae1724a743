"""Seeded synthetic datasets for training demos: small, noisy, with a separate validation split.

Regression (one input, one output):

* ``sine``: ``y = sin(frequency * x) + noise * N(0, 1)``, ``x ~ U(-pi, pi)``.
* ``polynomial``: ``y = T_degree(x) + noise * N(0, 1)``, ``x ~ U(-1, 1)``, where ``T_d`` is the
  Chebyshev polynomial of the first kind (``T_d(cos a) = cos(d a)``: it wiggles between -1 and 1
  exactly ``d`` times, so its difficulty is set by one integer).

Both default to few training points (30) and many validation points (200), so a wide network
can memorise the noise and the validation loss shows it.

Classification (two inputs, labels ``0 .. n_classes - 1``, balanced: point ``i`` has label
``i % n_classes`` before shuffling):

* ``moons``: two interleaving half circles (the scikit-learn construction, with the angle drawn
  uniformly rather than on a grid), Gaussian noise of std ``noise`` on each coordinate.
* ``circles``: a unit circle around a circle of radius ``factor``; noise as above.
* ``spirals``: ``n_classes`` arms, ``r ~ U(0, 1)``, angle ``turns * 2 pi r + 2 pi k / n_classes``.
* ``xor``: ``x`` uniform in the quadrants of ``[-1, 1]^2`` where the label says: 0 = same signs,
  1 = different signs; then noise.
* ``blobs``: ``n_classes`` isotropic Gaussians of std ``noise`` centred on a circle of radius 2.

Randomness: ``np.random.default_rng(seed).spawn(2)`` gives one generator for the training split
and one for the validation split, so the training set does not change when ``n_val`` does, and
the two splits are independent draws from the same distribution (validation targets are noisy
too: they are held-out data, not the clean function).

Targets: ``Y`` is float64 of shape ``(n, 1)``: the target value (regression) or the class index
(classification). ``engine.tasks.format_targets`` turns class indices into what a loss needs.

The registry ``DATASETS`` is the one list of datasets: each entry carries its generator
(``sample(rng, n, params) -> X, Y``), the parameters a training run takes, and ``landscape``: the
parameters ``engine.network_landscape`` takes for it (one sample of ``n`` points from
``default_rng([seed, 2])``; empty: not offered there). A dataset that is not drawn (a user's own
points) is one more entry whose ``make`` builds the ``Dataset`` from the request instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .errors import EngineInputError
from .limits import check_max
from .registry import ParamSpec, lookup, resolve_params
from .tasks import CLASSIFICATION, REGRESSION

__all__ = ["DATASETS", "Dataset", "make_dataset"]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    task: str  # engine.tasks: regression | classification
    n_inputs: int
    params: tuple[ParamSpec, ...]  # what a training run takes
    domain: tuple[tuple[float, float], ...]  # per input: the box a prediction is drawn on
    doc: str = ""
    sample: Callable | None = field(default=None, repr=False, compare=False)  # (rng, n, params) -> X, Y
    landscape: tuple[ParamSpec, ...] = ()  # what engine.network_landscape takes (empty: not offered there)


@dataclass(frozen=True)
class Dataset:
    """One generated dataset. ``Y`` holds targets (regression) or class indices (classification)."""

    name: str
    task: str  # "regression" | "classification"
    n_classes: int  # 0 for regression
    X_train: np.ndarray  # (n_train, n_inputs) float64
    Y_train: np.ndarray  # (n_train, 1) float64
    X_val: np.ndarray  # (n_val, n_inputs) float64
    Y_val: np.ndarray  # (n_val, 1) float64
    domain: np.ndarray  # (n_inputs, 2) float64: [low, high] per input, for drawing predictions
    params: dict  # the resolved parameters, defaults included

    @property
    def n_inputs(self) -> int:
        return self.X_train.shape[1]


def draw(name: str, rng: np.random.Generator, n: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of dataset ``name`` from ``rng``: its own parameters' defaults overlaid with ``params``
    (already validated by the caller). Returns X (n, n_inputs) and Y (n, 1), float64."""
    spec = DATASETS[name]
    return spec.sample(rng, n, {**{q.name: q.default for q in spec.params}, **params})


# -- samplers: (rng, n, params) -> X (n, d), Y (n, 1); all float64, C-contiguous -----------------


def _column(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y, dtype=np.float64).reshape(-1, 1)


def _sine(rng, n, p):
    x = rng.uniform(-np.pi, np.pi, n)
    y = np.sin(p["frequency"] * x) + p["noise"] * rng.standard_normal(n)
    return _column(x), _column(y)


def _polynomial(rng, n, p):
    x = rng.uniform(-1.0, 1.0, n)
    y = np.polynomial.chebyshev.chebval(x, [0.0] * p["degree"] + [1.0]) + p["noise"] * rng.standard_normal(n)
    return _column(x), _column(y)


def _shuffle_labelled(rng, X, labels):
    order = rng.permutation(len(labels))
    X = X[order] + 0.0
    return np.ascontiguousarray(X, dtype=np.float64), _column(labels[order])


def _balanced_labels(n, k):
    return np.arange(n) % k


def _moons(rng, n, p):
    lab = _balanced_labels(n, 2)
    a = rng.uniform(0.0, np.pi, n)
    X = np.where(
        lab[:, None] == 0,
        np.stack([np.cos(a), np.sin(a)], axis=1),
        np.stack([1.0 - np.cos(a), 0.5 - np.sin(a)], axis=1),
    )
    X = X + p["noise"] * rng.standard_normal((n, 2))
    return _shuffle_labelled(rng, X, lab)


def _circles(rng, n, p):
    lab = _balanced_labels(n, 2)
    a = rng.uniform(0.0, 2.0 * np.pi, n)
    r = np.where(lab == 0, 1.0, p["factor"])
    X = np.stack([r * np.cos(a), r * np.sin(a)], axis=1) + p["noise"] * rng.standard_normal((n, 2))
    return _shuffle_labelled(rng, X, lab)


def _spirals(rng, n, p):
    k = p["n_classes"]
    lab = _balanced_labels(n, k)
    r = rng.uniform(0.0, 1.0, n)
    a = p["turns"] * 2.0 * np.pi * r + 2.0 * np.pi * lab / k
    X = np.stack([r * np.cos(a), r * np.sin(a)], axis=1) + p["noise"] * rng.standard_normal((n, 2))
    return _shuffle_labelled(rng, X, lab)


def _xor(rng, n, p):
    lab = _balanced_labels(n, 2)
    mag = rng.uniform(0.0, 1.0, (n, 2))
    s0 = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    s1 = np.where(lab == 0, s0, -s0)
    X = np.stack([s0 * mag[:, 0], s1 * mag[:, 1]], axis=1) + p["noise"] * rng.standard_normal((n, 2))
    return _shuffle_labelled(rng, X, lab)


def _blobs(rng, n, p):
    k = p["n_classes"]
    lab = _balanced_labels(n, k)
    ang = 2.0 * np.pi * lab / k
    X = 2.0 * np.stack([np.cos(ang), np.sin(ang)], axis=1) + p["noise"] * rng.standard_normal((n, 2))
    return _shuffle_labelled(rng, X, lab)


def _common(n_train: int, noise: float, noise_high: float, n_val: int = 200) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("n_train", n_train, 2, None, "int", "training points (limit max_train_samples)"),
        ParamSpec("n_val", n_val, 1, None, "int", "validation points (limit max_val_samples)"),
        ParamSpec("noise", noise, 0.0, noise_high, "float", "std of the Gaussian noise"),
        ParamSpec("seed", 0, 0, 2**32 - 1, "int", "seed of np.random.default_rng"),
    )


_CLASSES = ParamSpec("n_classes", 2, 2, 8, "int", "number of classes")

# the network landscape draws one sample of n points (its own limit)
_N = ParamSpec("n", 200, 2, None, "int", "number of points (limit max_landscape_samples)")

DATASETS: dict[str, DatasetSpec] = {
    "sine": DatasetSpec(
        "sine", "Noisy sine", REGRESSION, 1,
        _common(30, 0.3, 2.0) + (ParamSpec("frequency", 1.0, 0.1, 5.0, "float", "y = sin(frequency * x)"),),
        ((-np.pi, np.pi),),
        "y = sin(frequency x) + noise N(0,1), x ~ U(-pi, pi)",
        sample=_sine, landscape=(_N, ParamSpec("noise", 0.1, 0.0, 2.0, doc="std of the Gaussian noise on y")),
    ),
    "polynomial": DatasetSpec(
        "polynomial", "Noisy Chebyshev polynomial", REGRESSION, 1,
        _common(30, 0.2, 2.0) + (ParamSpec("degree", 3, 1, 10, "int", "y = T_degree(x), Chebyshev"),),
        ((-1.0, 1.0),),
        "y = T_degree(x) + noise N(0,1), x ~ U(-1, 1)",
        sample=_polynomial,
    ),
    "moons": DatasetSpec(
        "moons", "Two moons", CLASSIFICATION, 2, _common(200, 0.1, 1.0), ((-1.5, 2.5), (-1.0, 1.5)),
        "two interleaving half circles",
        sample=_moons, landscape=(_N, ParamSpec("noise", 0.1, 0.0, 2.0, doc="std of the Gaussian noise on x")),
    ),
    "circles": DatasetSpec(
        "circles", "Concentric circles", CLASSIFICATION, 2,
        _common(200, 0.05, 1.0) + (ParamSpec("factor", 0.5, 0.05, 0.95, "float", "inner radius / outer radius"),),
        ((-1.5, 1.5), (-1.5, 1.5)),
        "a unit circle (class 0) around a circle of radius factor (class 1)",
        sample=_circles,
        landscape=(_N, ParamSpec("noise", 0.05, 0.0, 2.0, doc="std of the Gaussian noise on x"),
                   ParamSpec("factor", 0.5, 0.0, 0.99, doc="inner radius / outer radius")),
    ),
    "spirals": DatasetSpec(
        "spirals", "Interleaved spirals", CLASSIFICATION, 2,
        _common(300, 0.02, 1.0) + (_CLASSES, ParamSpec("turns", 0.75, 0.25, 3.0, "float", "turns of each arm")),
        ((-1.2, 1.2), (-1.2, 1.2)),
        "n_classes spiral arms",
        sample=_spirals,
    ),
    "xor": DatasetSpec(
        "xor", "XOR quadrants", CLASSIFICATION, 2, _common(200, 0.05, 1.0), ((-1.2, 1.2), (-1.2, 1.2)),
        "label 1 where the two coordinates have different signs",
        sample=_xor,
    ),
    "blobs": DatasetSpec(
        "blobs", "Gaussian blobs", CLASSIFICATION, 2,
        _common(200, 0.5, 2.0) + (_CLASSES,),
        ((-3.5, 3.5), (-3.5, 3.5)),
        "n_classes Gaussians of std noise centred on a circle of radius 2",
        sample=_blobs,
    ),
}


def describe() -> list[dict]:
    """Catalog entries (key "datasets"): name, title, task, inputs, parameters, drawing domain."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "task": s.task,
            "n_inputs": s.n_inputs,
            "doc": s.doc,
            "domain": [list(d) for d in s.domain],
            "parameters": [p.to_dict() for p in s.params],
            "landscape_parameters": [p.to_dict() for p in s.landscape],
        }
        for s in DATASETS.values()
    ]


def make_dataset(name: str, params: Mapping[str, Any] | None = None) -> Dataset:
    """Generate dataset ``name`` with ``params`` (defaults from ``DATASETS[name].params``).

    Refuses unknown names and parameters, out-of-range values, and sizes above
    ``max_train_samples`` / ``max_val_samples`` (errors name ``name`` or ``params.<parameter>``).

    >>> d = engine.make_dataset("moons", {"n_train": 8, "n_val": 4, "seed": 1})
    >>> d.task, d.X_train.shape, d.Y_train.shape, d.n_classes
    ('classification', (8, 2), (8, 1), 2)
    """
    try:
        return generate(name, params, "dataset")
    except EngineInputError as err:
        if err.field == "dataset.name":
            raise EngineInputError("name", err.message) from None
        raise err.rerooted("params", strip="dataset") from None


def generate(name: str, params: Mapping[str, Any] | None = None, field: str = "dataset") -> Dataset:
    """``make_dataset`` for a request's dataset object: errors name ``field.name``, ``field.<parameter>``."""
    spec = lookup(DATASETS, name, f"{field}.name")
    p = resolve_params(spec.params, params, field)
    check_max(f"{field}.n_train", p["n_train"], "max_train_samples")
    check_max(f"{field}.n_val", p["n_val"], "max_val_samples")
    n_classes = p.get("n_classes", 2) if spec.task == CLASSIFICATION else 0
    if spec.task == CLASSIFICATION and p["n_train"] < n_classes:
        raise EngineInputError(f"{field}.n_train", f"needs at least n_classes={n_classes} points")
    rng_train, rng_val = np.random.default_rng(p["seed"]).spawn(2)
    X_train, Y_train = spec.sample(rng_train, p["n_train"], p)
    X_val, Y_val = spec.sample(rng_val, p["n_val"], p)
    return Dataset(
        name=name,
        task=spec.task,
        n_classes=n_classes,
        X_train=X_train,
        Y_train=Y_train,
        X_val=X_val,
        Y_val=Y_val,
        domain=np.array(spec.domain, dtype=np.float64),
        params=p,
    )


def _warmup() -> None:
    """No kernels here (numpy only); draw every dataset once so import costs are paid up front."""
    for name in DATASETS:
        make_dataset(name, {"n_train": 4, "n_val": 2})
