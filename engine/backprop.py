"""Backpropagation laid open: forward and backward records, the chain rule along one path, a
gradient check, and what backprop saves over finite differences, measured.

``run_backprop(layers, ...)`` builds an MLP (engine.mlp; W of shape [inputs, outputs]), evaluates one
batch and returns

* ``forward``: per layer ℓ = 1..L, z_ℓ = a_{ℓ−1}W_ℓ + b_ℓ and a_ℓ (and s_ℓ, the batch-normalized z,
  when batch_norm is on), each [n, w_ℓ];
* ``backward``: per layer, ∂L/∂a_ℓ, ∂L/∂z_ℓ (z is the linear output, before BN), ∂L/∂W_ℓ, ∂L/∂b_ℓ
  (and ∂L/∂γ, ∂L/∂β). L is the loss with torch's reduction (mean over the batch), so every record
  already carries the 1/n;
* ``chain_rule``: the factors of ∂L/∂w for one first-layer weight w = W_1[i, j] along one path of
  units j = u_1 → u_2 → … → u_{L−1} → k (output unit), for one sample s, from the output back::

      ∂L/∂ŷ_k · ∂ŷ_k/∂h_{L−1,u} · … · ∂h_{2,u₂}/∂h_{1,j} · ∂h_{1,j}/∂w

  with ∂h_{ℓ,v}/∂h_{ℓ−1,u} = act'(z_{ℓ,v})·W_ℓ[u, v] (+1 when layer ℓ has a residual connection and
  u = v), ∂ŷ_k/∂h_{L−1,u} = out_act'(z_{L,k})·W_L[u, k], ∂h_{1,j}/∂w = act'(z_{1,j})·x_{s,i}, and
  ∂L/∂ŷ_k the loss gradient of sample s (it includes the batch mean's 1/n).
  ``product`` is that one path's contribution for that sample. The gradient is the sum over every
  path and every sample: ``path_sum`` (this path, all samples) and ``all_paths_sum`` (all paths, all
  samples; the per-sample sum over paths is a product of the layers' Jacobian matrices, which is the
  same sum grouped by distributivity) — ``all_paths_sum`` equals ``backprop``, the backward kernel's
  ∂L/∂W_1[i, j]. For a net with one unit per hidden layer, one output and one sample, there is one
  path and ``product`` = ``backprop``. Not defined with batch normalization (it couples the samples
  of a batch: ∂h/∂z is not per-sample), so ``chain_rule`` is None then, with a note.
* ``gradcheck``: centered finite differences (L(θ + h) − L(θ − h))/(2h) for every parameter,
  h = 1e-5·max(1, |θ_i|), against backprop. ``max_rel_error`` = max_i |fd_i − bp_i| /
  max(|fd_i|, |bp_i|, 1e-3·max_j |bp_j|): entries a thousand times smaller than the largest are
  judged against that floor, because float64 differences of the loss cannot resolve them (the
  difference quotient's error is ~1e-11 absolute). ``max_abs_error`` and ``norm_rel_error`` =
  ‖fd − bp‖/‖bp‖ are given too.
* ``cost``: seconds of one forward pass and of one backward pass (median of repeats, each repeat a
  jitted loop of calls sized to ~1 ms), of the whole finite-difference gradient (2P forward passes),
  and the ratios backward/forward (≈ 1–3: backprop costs a small multiple of a forward pass) and
  finite-difference/backprop (≈ P: one forward pass per parameter, twice).

Mode: training-mode batch norm (batch statistics), no dropout. Non-finite values (an exploding net)
never leave: ``status`` becomes ``"overflow"``, ``forward`` stops at the last layer whose values are
all finite, and the backward record, loss, chain rule and gradient check are omitted (None).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from ._jit import as_int, kernel
from .errors import EngineInputError, field_prefix
from .limits import check_max
from .validate import check_bool, check_int, check_mapping, check_seed
from .losses import LOSSES, loss_value_grad, resolve_loss
from .mlp import MLP, as_batch, build_mlp, init_params, layer_views, new_running, new_workspace, pack, record_views, unpack
from .mlp_kernels import TRAIN, Problem, mlp_backward, mlp_forward, mlp_loss, safe_norm
from .activations import activation_deriv

__all__ = ["BackpropResult", "run_backprop"]

FD_STEP = 1e-5  # relative step of the centered difference
REL_FLOOR = 1e-3  # entries below this fraction of max|bp| are compared against it


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------
@kernel
def fd_gradient(pb, params, mode, running, work, rel_step, out):
    """Centered finite differences of the loss of ``pb`` (an ``engine.mlp_kernels.Problem``) for every
    parameter (``params`` restored exactly; dropout masks of seed 0, step 0).

    out[i] = (L(θ + h e_i) − L(θ − h e_i)) / ((θ_i + h) − (θ_i − h)),  h = rel_step·max(1, |θ_i|).
    """
    for i in range(params.shape[0]):
        old = params[i]
        h = rel_step * max(1.0, abs(old))
        hi = old + h
        lo = old - h
        params[i] = hi
        lp = mlp_loss(pb.layout, pb.fparams, params, pb.X, pb.Y, pb.loss_code, pb.lparams, mode, as_int(0),
                      as_int(0), running, work)
        params[i] = lo
        lm = mlp_loss(pb.layout, pb.fparams, params, pb.X, pb.Y, pb.loss_code, pb.lparams, mode, as_int(0),
                      as_int(0), running, work)
        params[i] = old
        out[i] = (lp - lm) / (hi - lo)


@kernel
def _repeat(which, layout, fparams, params, X, dy, running, grad, work, reps):
    """``reps`` forward passes (which = 0) or backward passes (which = 1) in one jitted loop, for timing."""
    acc = 0.0
    for _ in range(reps):
        if which == 0:
            yhat = mlp_forward(layout, fparams, params, X, as_int(TRAIN), as_int(0), as_int(0), running, work)
            acc += yhat[0, 0]
        else:
            mlp_backward(layout, fparams, params, X, dy, as_int(TRAIN), grad, work, work[:0])
            acc += grad[0]
    return acc


@kernel
def _path_factors(layout, fparams, params, X, work_z, units, sample, dy, out):
    """out[0] = ∂L/∂ŷ_k, out[1..L−1] = ∂h_ℓ/∂h_{ℓ−1} from the output back, out[L] = ∂h_1/∂w.

    ``units`` = [i, u_1 = j, u_2, ..., u_{L−1}, k] (input unit, then one unit per layer);
    ``work_z`` holds z_ℓ[sample, :] of every layer concatenated (length Σ w_ℓ).
    """
    L = layout.shape[0]
    zoff = 0
    for l in range(L - 1):
        zoff += layout[l, 1]
    k = units[L]
    out[0] = dy[sample, k]
    pos = 1
    zl = zoff
    for l in range(L - 1, 0, -1):
        fo = layout[l, 1]
        u = units[l]  # unit in layer l (1-based layer l = index l in units), the factor's denominator
        v = units[l + 1]
        wv = params[layout[l, 2] + u * fo + v]
        f = activation_deriv(layout[l, 8], work_z[zl + v], fparams[l, 0]) * wv
        if layout[l, 7] == 1 and u == v:
            f += 1.0
        out[pos] = f
        pos += 1
        zl -= layout[l - 1, 1]
    j = units[1]
    out[pos] = activation_deriv(layout[0, 8], work_z[j], fparams[0, 0]) * X[sample, units[0]]


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@resultclass
@dataclass(frozen=True, eq=False)
class ChainRule:
    path: dict  # {"input": i, "unit": j, "through": [u_2..u_{L−1}], "output": k, "sample": s}
    factors: list  # [{"name", "formula", "value"}], output first
    product: float  # Π factors: this path, this sample
    path_sum: float  # this path summed over the samples
    all_paths_sum: float  # every path, every sample (= backprop)
    backprop: float  # ∂L/∂W_1[i, j] from the backward kernel
    n_paths: float  # a float: 64 layers of 1024 units have ~1e190 paths


@resultclass
@dataclass(frozen=True, eq=False)
class GradCheck:
    max_rel_error: float
    max_abs_error: float
    norm_rel_error: float
    worst: dict  # {"parameter": index, "layer": ℓ, "name": "W"|"b"|..., "finite_difference", "backprop"}
    step: str
    finite_difference: np.ndarray  # the whole finite-difference gradient (flat, the params' layout)


@resultclass
@dataclass(frozen=True)
class Cost:
    forward_s: float
    backward_s: float
    finite_difference_s: float
    backward_over_forward: float
    finite_difference_over_backprop: float  # FD time / (forward + backward time)
    parameters: int
    forward_passes_fd: int  # 2P
    repeats: int


@resultclass
@dataclass(frozen=True, eq=False)
class BackpropResult:
    widths: tuple[int, ...]
    activation: str
    output_activation: str
    loss_name: str
    status: str  # "ok" | "overflow"
    weights: list  # [{"W", "b", ("gamma", "beta")}] — the parameters used
    forward: list  # [{"z", "a", ("s")}], layer 1 first
    backward: list  # [{"da", "dz", "dW", "db", ("dgamma", "dbeta")}]
    loss: float | None
    output: np.ndarray | None  # ŷ
    chain_rule: ChainRule | None
    gradcheck: GradCheck | None
    cost: Cost
    parameters: int
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def check_loss_fits(net: MLP, loss_name: str, Y: np.ndarray, field: str = "targets") -> None:
    """Refuse targets or an output activation the loss cannot take (ranges from the loss registry)."""
    spec = LOSSES[loss_name]
    if spec.pred_range is not None and net.output_activation != "sigmoid":
        raise EngineInputError("output_activation", f"loss {loss_name} needs predictions in [0, 1]: use 'sigmoid'")
    if spec.target_range is not None:
        lo, hi = spec.target_range
        if Y.min() < lo or Y.max() > hi:
            raise EngineInputError(field, f"loss {loss_name} needs targets in [{lo:g}, {hi:g}]")
    if spec.target_values and not np.isin(Y, spec.target_values).all():
        raise EngineInputError(field, f"loss {loss_name} needs targets in {list(spec.target_values)}")


def _median_time(fn, budget_s: float = 1e-3, repeats: int = 7) -> tuple[float, int]:
    """Median seconds per call of ``fn(reps)`` (a jitted loop of reps calls), reps sized to ~budget."""
    fn(1)
    t0 = time.perf_counter()
    fn(1)
    one = max(time.perf_counter() - t0, 1e-8)
    reps = max(1, min(100_000, int(budget_s / one)))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(reps)
        times.append((time.perf_counter() - t0) / reps)
    return statistics.median(times), repeats


def _finite_prefix(views: list[dict]) -> int:
    for l, v in enumerate(views):
        if not all(np.isfinite(a).all() for a in v.values()):
            return l
    return len(views)


def _resolve_path(path, net: MLP, n: int) -> dict:
    L = net.n_layers
    path = dict(path or {})
    known = {"input", "unit", "through", "output", "sample"}
    unknown = sorted(set(path) - known)
    if unknown:
        raise EngineInputError(f"path.{unknown[0]}", f"unknown key; accepted: {', '.join(sorted(known))}")

    def idx(name, value, bound):
        value = check_int(f"path.{name}", value, 0, integral_floats=False)
        if not value < bound:
            raise EngineInputError(f"path.{name}", f"must be in [0, {bound - 1}]")
        return int(value)

    w = net.widths
    i = idx("input", path.get("input", 0), w[0])
    s = idx("sample", path.get("sample", 0), n)
    if L == 1:
        j = idx("unit", path.get("unit", 0), w[1])
        if "output" in path and path["output"] != j:
            raise EngineInputError("path.output", "with one weight layer the output unit is the weight's unit")
        if path.get("through"):
            raise EngineInputError("path.through", "must be empty: there are no hidden layers after the first")
        return {"input": i, "unit": j, "through": [], "output": j, "sample": s}
    j = idx("unit", path.get("unit", 0), w[1])
    through = path.get("through", [0] * (L - 2))
    if not isinstance(through, (list, tuple)) or len(through) != L - 2:
        raise EngineInputError("path.through", f"must list {L - 2} unit indices, one per hidden layer 2..{L - 1}")
    through = [idx("through", u, w[l + 2]) for l, u in enumerate(through)]
    k = idx("output", path.get("output", 0), w[-1])
    return {"input": i, "unit": j, "through": through, "output": k, "sample": s}


def _chain_rule(net: MLP, params, X, fwd: list[dict], dy: np.ndarray, grad_W1: float, path: dict) -> ChainRule:
    L = net.n_layers
    s = path["sample"]
    units = np.array([path["input"], path["unit"], *path["through"], path["output"]], dtype=np.int64)
    names, formulas = ["∂L/∂ŷ_k"], ["loss gradient of sample s (includes the mean's 1/n)"]
    for l in range(L, 1, -1):
        if l == L:
            names.append(f"∂ŷ_k/∂h{l - 1}")
            formulas.append(f"out_act'(z{l}) · W{l}[u{l - 1}, k]")
        else:
            names.append(f"∂h{l}/∂h{l - 1}")
            skip = " (+1: residual, same unit)" if net.layout[l - 1, 7] == 1 else ""
            formulas.append(f"act'(z{l}) · W{l}[u{l - 1}, u{l}]{skip}")
    names.append("∂h1/∂w")
    formulas.append("act'(z1) · x_i" if L > 1 else "out_act'(z1) · x_i")
    if L == 1:
        names = ["∂L/∂ŷ_k", "∂ŷ_k/∂w"]
        formulas = [formulas[0], "out_act'(z1) · x_i"]
    out = np.empty(L + 1)
    per_sample = np.empty(X.shape[0])
    for t in range(X.shape[0]):
        z = np.ascontiguousarray(np.concatenate([v["z"][t] for v in fwd]))
        _path_factors(net.layout, net.fparams, params, X, z, units, t, dy, out)
        per_sample[t] = np.prod(out)
        if t == s:
            factors = out.copy()
    # all paths: per sample, e_j · J_2 ⋯ J_L · g with J_ℓ[u, v] = W_ℓ[u, v]·act'(z_ℓ[v]) (+ I on skips)
    layers = unpack(net, params)
    total = 0.0
    for t in range(X.shape[0]):
        g = dy[t].copy()
        for l in range(L, 1, -1):
            z = fwd[l - 1]["z"][t]
            d = np.array([activation_deriv(int(net.layout[l - 1, 8]), float(v), float(net.fparams[l - 1, 0])) for v in z])
            gn = layers[l - 1].W @ (d * g)
            if net.layout[l - 1, 7] == 1:
                gn = gn + g
            g = gn
        j, i = path["unit"], path["input"]
        d1 = activation_deriv(int(net.layout[0, 8]), float(fwd[0]["z"][t, j]), float(net.fparams[0, 0]))
        total += g[j] * d1 * X[t, i]
    n_paths = float(np.prod([net.widths[l] for l in range(2, L + 1)], dtype=np.float64)) if L > 1 else 1.0
    return ChainRule(
        dict(path),
        [{"name": nm, "formula": fm, "value": float(v)} for nm, fm, v in zip(names, formulas, factors)],
        float(np.prod(factors)), float(per_sample.sum()), float(total), float(grad_W1), n_paths,
    )


def _locate(net: MLP, index: int) -> tuple[int, str]:
    for l, row in enumerate(net.layout):
        fi, fo, wo, bo, go, beo = (int(v) for v in row[:6])
        for name, off, size in (("W", wo, fi * fo), ("b", bo, fo), ("gamma", go, fo), ("beta", beo, fo)):
            if off >= 0 and off <= index < off + size:
                return l + 1, name
    raise AssertionError(index)


def gradcheck(net: MLP, params, X, Y, loss_code: int, lparams, grad) -> GradCheck:
    """Centered finite differences of every parameter against the backprop gradient ``grad``."""
    fd = np.empty(net.n_params)
    p = params.copy()
    work = new_workspace(net, X.shape[0])
    fd_gradient(Problem(net.layout, net.fparams, X, Y, loss_code, lparams), p, TRAIN, new_running(net), work, FD_STEP,
                fd)
    return _compare(net, fd, grad)


def _compare(net: MLP, fd: np.ndarray, grad: np.ndarray) -> GradCheck:
    with np.errstate(all="ignore"):  # overflowed differences are caught by the caller
        return _compare_finite(net, fd, grad)


def _compare_finite(net: MLP, fd: np.ndarray, grad: np.ndarray) -> GradCheck:
    err = np.abs(fd - grad)
    scale = float(np.abs(grad).max()) if grad.size else 0.0
    floor = max(REL_FLOOR * scale, 1e-300)
    rel = err / np.maximum(np.maximum(np.abs(fd), np.abs(grad)), floor)
    w = int(np.argmax(rel))
    layer, name = _locate(net, w)
    nb = float(safe_norm(grad))
    nd = float(safe_norm(np.ascontiguousarray(fd - grad)))
    return GradCheck(
        float(rel.max()), float(err.max()), nd / nb if nb > 0 else nd,
        {"parameter": w, "layer": layer, "name": name, "finite_difference": float(fd[w]), "backprop": float(grad[w])},
        f"centered, h = {FD_STEP:g}·max(1, |θ|); relative error floor {REL_FLOOR:g}·max|backprop|",
        fd,
    )


def run_backprop(
    layers: Sequence[int],
    inputs: ArrayLike,
    targets: ArrayLike,
    activation: str = "sigmoid",
    init: Mapping[str, Any] | str | None = None,
    loss: str = "mse",
    seed: int = 0,
    weights: Sequence[Mapping[str, Any]] | None = None,
    path: Mapping[str, Any] | None = None,
    residual: bool = False,
    batch_norm: bool = False,
    output_activation: str = "identity",
    activation_params: Mapping[str, Any] | None = None,
    loss_params: Mapping[str, Any] | None = None,
    measure_cost: bool = True,
) -> BackpropResult:
    """Forward and backward records, chain rule, gradient check and cost for one small batch.

    ``inputs`` [n, layers[0]], ``targets`` [n, layers[-1]]; ``weights`` (``[{"W", "b"}, ...]``) or ``init`` and
    ``seed`` give the parameters; ``path`` picks the chain-rule path (input, unit, through, output, sample).
    Limits: max_layers, max_width, max_backprop_parameters, max_backprop_samples.

    >>> r = engine.run_backprop([1, 1], [[2.0]], [[0.0]], activation="identity", output_activation="identity",
    ...                         weights=[{"W": [[0.5]], "b": [0.0]}], measure_cost=False)
    >>> r.loss, r.backward[0]["dW"].tolist()      # (0.5·2)² and ∂/∂W = 2·(1 − 0)·2
    (1.0, [[4.0]])
    """
    net = build_mlp(layers, activation, output_activation, residual, batch_norm, 0.0, activation_params)
    check_max("layers", net.n_params, "max_backprop_parameters")
    seed = check_seed("seed", seed)
    path = check_mapping("path", path)
    measure_cost = check_bool("measure_cost", measure_cost)
    with field_prefix("loss_params", strip="params", only=("params",)):  # the request's name for them
        r = resolve_loss(loss, loss_params)
    if targets is None:
        raise EngineInputError("targets", "required: one row of targets per input row")
    X, Y = as_batch(net, inputs, targets, "inputs", "targets", batch_limit="max_backprop_samples")
    check_loss_fits(net, r.name, Y)
    params = pack(net, weights) if weights is not None else init_params(net, init, int(seed))
    path_resolved = _resolve_path(path, net, X.shape[0]) if not batch_norm else None
    n = X.shape[0]
    work = new_workspace(net, n)
    record = np.zeros(net.record_size(n))
    grad = np.zeros(net.n_params)
    dy = np.zeros((n, net.widths[-1]))
    running = new_running(net)
    # forward (training mode, no dropout), loss, backward with every layer's ∂L/∂z and ∂L/∂a recorded
    yhat = mlp_forward(net.layout, net.fparams, params, X, TRAIN, 0, 0, running, work)
    loss_value = float(loss_value_grad(r.code, yhat, Y, r.lparams, dy))
    mlp_backward(net.layout, net.fparams, params, X, dy, TRAIN, grad, work, record)
    fwd = [{k: v[k].copy() for k in (("z", "s", "a") if "mean" in v else ("z", "a"))} for v in layer_views(net, work, n)]
    output = fwd[-1]["a"].copy()
    weights_out = [{k: getattr(lp, k).copy() for k in ("W", "b", "gamma", "beta") if getattr(lp, k) is not None}
                   for lp in unpack(net, params)]
    notes = []
    cost = _cost(net, params, X, Y, r, running, dy.copy()) if measure_cost else Cost(0, 0, 0, 0, 0, net.n_params, 2 * net.n_params, 0)
    recs = record_views(net, record, n)
    gl = unpack(net, grad)
    bwd = []
    for l in range(net.n_layers):
        b = {"da": recs[l]["da"].copy(), "dz": recs[l]["dz"].copy(), "dW": gl[l].W.copy(), "db": gl[l].b.copy()}
        if gl[l].gamma is not None:
            b["dgamma"], b["dbeta"] = gl[l].gamma.copy(), gl[l].beta.copy()
        bwd.append(b)
    finite = math.isfinite(loss_value) and np.isfinite(grad).all() and np.isfinite(record).all() \
        and _finite_prefix(fwd) == len(fwd)
    if not finite:
        notes.append("values overflowed float64: forward stops at the last all-finite layer; no backward record")
        return BackpropResult(net.widths, net.activation, net.output_activation, r.name, "overflow", weights_out,
                              fwd[:_finite_prefix(fwd)], [], None, None, None, None, cost, net.n_params, notes)
    chain = None
    if batch_norm:
        notes.append("chain_rule omitted: batch normalization couples the samples of a batch, so ∂h/∂z is not per-sample")
    else:
        g1 = float(gl[0].W[path_resolved["input"], path_resolved["unit"]])
        chain = _chain_rule(net, params, X, fwd, dy, g1, path_resolved)
    check = gradcheck(net, params, X, Y, r.code, r.lparams, grad)
    if not (math.isfinite(check.max_rel_error) and math.isfinite(check.norm_rel_error)
            and np.isfinite(check.finite_difference).all()):
        check = None
        notes.append("gradcheck omitted: the perturbed losses overflowed float64")
    return BackpropResult(net.widths, net.activation, net.output_activation, r.name, "ok", weights_out, fwd, bwd,
                          loss_value, output, chain, check, cost, net.n_params, notes)


def _cost(net: MLP, params, X, Y, r, running, dy) -> Cost:
    n = X.shape[0]
    work = new_workspace(net, n)
    grad = np.zeros(net.n_params)
    layout, fp = net.layout, net.fparams
    t_fwd, reps = _median_time(lambda k: _repeat(0, layout, fp, params, X, dy, running, grad, work, k))
    t_bwd, _ = _median_time(lambda k: _repeat(1, layout, fp, params, X, dy, running, grad, work, k))
    fd = np.empty(net.n_params)
    p = params.copy()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fd_gradient(Problem(layout, fp, X, Y, r.code, r.lparams), p, TRAIN, running, work, FD_STEP, fd)
        times.append(time.perf_counter() - t0)
        if times[-1] > 0.05:
            break
    t_fd = statistics.median(times)
    return Cost(t_fwd, t_bwd, t_fd, t_bwd / t_fwd, t_fd / (t_fwd + t_bwd), net.n_params, 2 * net.n_params, reps)


def describe() -> list[dict]:
    """What the backprop endpoint returns and how each part is formed."""
    return [{
        "name": "backprop",
        "title": "Backpropagation laid open",
        "parameters": [],
        "records": "forward: z = aW + b, (s = BN(z)), a per layer; backward: da, dz, dW, db (dgamma, dbeta)",
        "chain_rule": "∂L/∂ŷ_k · ∂ŷ_k/∂h_{L−1} · … · ∂h_2/∂h_1 · ∂h_1/∂w for one path and one sample; "
                      "all_paths_sum (all paths, all samples) = backprop",
        "gradcheck": f"centered differences, h = {FD_STEP:g}·max(1, |θ|); relative error floor {REL_FLOOR:g}·max|bp|",
        "cost": "median seconds of forward and backward passes, FD gradient time (2P forward passes), ratios",
    }]


def _warmup() -> None:
    run_backprop([2, 2, 1], [[0.5, -0.5], [1.0, 0.0]], [[1.0], [0.0]], measure_cost=True)
    run_backprop([2, 2, 2, 1], [[0.5, -0.5], [1.0, 0.0]], [[1.0], [0.0]], batch_norm=True, residual=True,
                 measure_cost=False)
