"""``engine.Optimizer``: the object API for stepping, as ``torch.optim`` users know it.

The kernels of ``engine.optimizers`` (``optimizer_step``, ``reset_state``) are fast and unchecked: a
state array of the wrong size writes out of bounds. This object owns its state and checks every
step before it reaches a kernel, so a wrong size, dtype or layout is an ``EngineInputError`` naming
the argument and the parameters are left untouched (no partial update)::

    opt = Optimizer("adam", lr=1e-2, betas=(0.9, 0.999))
    for _ in range(100):
        opt.step(params, grad_of(params))    # params: a float64 array, updated IN PLACE (as torch)

Decisions (and why):

* In place, like ``torch.optim``: ``step`` writes into ``params`` and returns it. A float32, integer,
  non-contiguous or read-only array, or a list, is refused rather than silently copied, because a
  copy would leave the caller's array unchanged while looking updated.
* Hyperparameters are explicit keywords with torch's names; ``None`` (the default) means the
  optimizer's torch default. A keyword the chosen optimizer does not take (``momentum`` on adam) is
  refused, naming it. ``lr`` may be changed between steps (``opt.lr = ...``), as a scheduler changes
  ``param_groups[0]["lr"]``.
* The state is sized on the first step; a later step with another size is refused (call
  ``reset()`` to start over with a new vector). ``t`` counts the steps taken, as torch's
  ``state["step"]``: 0 before the first, and the kernel sees t >= 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import EngineInputError, field_prefix
from .optimizers import OPTIMIZERS, new_state, optimizer_step, resolve_optimizer
from .validate import as_array

__all__ = ["Optimizer"]


def _check_params_array(params: Any) -> np.ndarray:
    if not isinstance(params, np.ndarray):
        raise EngineInputError("params", "must be a numpy float64 array (updated in place), "
                                         f"not {type(params).__name__}; use np.asarray(x, dtype=np.float64)")
    if params.dtype != np.float64:
        raise EngineInputError("params", f"must be float64 (updated in place), not {params.dtype}; "
                                         "convert it once with params.astype(np.float64)")
    if not params.flags.c_contiguous:
        raise EngineInputError("params", "must be C-contiguous (updated in place); use np.ascontiguousarray")
    if not params.flags.writeable:
        raise EngineInputError("params", "is read-only; it is updated in place")
    if params.size == 0:
        raise EngineInputError("params", "must not be empty")
    return params


def _check_grad(grad: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = as_array("grad", grad, "must be an array of numbers")
    if arr.dtype.kind not in "biuf":
        raise EngineInputError("grad", f"must be an array of numbers, not of {arr.dtype}")
    if arr.shape != shape:
        raise EngineInputError("grad", f"shape {list(arr.shape)} does not match params {list(shape)}")
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    if not np.isfinite(arr).all():
        raise EngineInputError("grad", "values must be finite (NaN or Infinity would poison the state)")
    return arr


class Optimizer:
    """A torch.optim-style optimizer over one float64 parameter array: ``opt.step(params, grad)``.

    ``name`` is one of ``engine.OPTIMIZERS`` (sgd, adagrad, rmsprop, adadelta, adam, adamw, adamax,
    nadam, radam, lion). Each keyword is the torch hyperparameter of that name; ``None`` keeps the
    optimizer's torch default, and a keyword this optimizer does not take is an ``EngineInputError``.
    ``step`` updates ``params`` in place with exactly torch's arithmetic (CPU single-tensor path).

    >>> params = np.array([1.0, -2.0])
    >>> opt = engine.Optimizer("sgd", lr=0.1, momentum=0.9)
    >>> opt.step(params, 2 * params)       # the gradient of |p|^2
    array([ 0.8, -1.6])
    >>> opt.step(params, 2 * params)
    array([ 0.46, -0.92])
    >>> opt.t
    2
    >>> opt.state_dict()["state"]["momentum_buffer"]
    array([ 3.4, -6.8])
    """

    def __init__(self, name: str, *, lr: float | None = None, betas: tuple[float, float] | None = None,
                 eps: float | None = None, weight_decay: float | None = None, momentum: float | None = None,
                 dampening: float | None = None, nesterov: bool | None = None, alpha: float | None = None,
                 centered: bool | None = None, rho: float | None = None, lr_decay: float | None = None,
                 initial_accumulator_value: float | None = None, amsgrad: bool | None = None,
                 decoupled_weight_decay: bool | None = None, momentum_decay: float | None = None,
                 maximize: bool | None = None) -> None:
        given = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                 "dampening": dampening, "nesterov": nesterov, "alpha": alpha, "centered": centered, "rho": rho,
                 "lr_decay": lr_decay, "initial_accumulator_value": initial_accumulator_value,
                 "amsgrad": amsgrad, "decoupled_weight_decay": decoupled_weight_decay,
                 "momentum_decay": momentum_decay, "maximize": maximize}
        if not isinstance(name, str) or name not in OPTIMIZERS:
            raise EngineInputError("name", f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
        taken = {p.name for p in OPTIMIZERS[name].params}
        for key, value in given.items():
            if value is not None and key not in taken:
                raise EngineInputError(key, f"{name} takes no {key}; it takes: {', '.join(sorted(taken))}")
        spec = {"name": name, **{k: v for k, v in given.items() if v is not None}}
        with field_prefix("", strip="optimizer"):  # optimizer.lr -> lr: the keyword's own name
            self._resolved = resolve_optimizer(spec)
        self._lr = self._resolved.lr
        self._state: np.ndarray | None = None
        self._scal: np.ndarray | None = None
        self._t = 0

    @property
    def name(self) -> str:
        """The optimizer's registry name (``adam``, ...)."""
        return self._resolved.name

    @property
    def hyperparameters(self) -> dict:
        """Every hyperparameter with torch's name, defaults filled in (``lr`` is the current one)."""
        out = dict(self._resolved.params)
        out["lr"] = self._lr
        return out

    @property
    def lr(self) -> float:
        """The learning rate the next step uses (settable between steps, as a scheduler does)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise EngineInputError("lr", "must be a number")
        if not math.isfinite(value) or value < 0:
            raise EngineInputError("lr", "must be a finite number >= 0")
        self._lr = float(value)

    @property
    def t(self) -> int:
        """Steps taken so far (torch's ``state["step"]``): 0 before the first step."""
        return self._t

    @property
    def size(self) -> int | None:
        """The parameter count the state was sized for (None before the first step)."""
        return None if self._state is None else int(self._state.shape[1])

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """One optimizer step: update ``params`` in place from ``grad`` and return ``params``.

        ``params``: a C-contiguous, writable float64 numpy array (any shape), the same size on every
        step; ``grad``: numbers of ``params``' shape, finite. Everything is checked before anything
        is written: a refused step changes neither ``params`` nor the optimizer's state.
        """
        params = _check_params_array(params)
        g = _check_grad(grad, params.shape)
        n = int(params.size)
        if self._state is None:
            self._state, self._scal = new_state(self._resolved, n)
        elif self._state.shape[1] != n:
            raise EngineInputError("params", f"has {n} elements but this optimizer's state was sized for "
                                             f"{self._state.shape[1]} on its first step; call reset() first")
        flat = params.reshape(-1)  # a view: C-contiguous
        self._t += 1
        optimizer_step(self._resolved.code, self._resolved.hp, flat, g, self._state, self._scal, self._t, self._lr)
        return params

    def reset(self) -> None:
        """Forget the state and the step count (the next step may size it for another vector)."""
        self._state = None
        self._scal = None
        self._t = 0

    def state_dict(self) -> dict:
        """A copy of everything the optimizer holds: name, hyperparameters, ``t`` and the state arrays
        by torch's names (empty before the first step; NAdam adds ``mu_product``)."""
        state: dict[str, Any] = {}
        if self._state is not None:
            spec = OPTIMIZERS[self.name]
            for k, row in enumerate(spec.state):
                state[row] = self._state[k].copy()
            if self.name == "nadam":
                state["mu_product"] = float(self._scal[0])
        return {"name": self.name, "t": self._t, "hyperparameters": self.hyperparameters, "state": state}

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"Optimizer({self.name!r}, {hp}; t={self._t}, size={self.size})"

