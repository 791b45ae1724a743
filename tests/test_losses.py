"""engine.losses: every loss's value and gradient against closed forms, a plain-numpy reference
written from the formula sheet, centred finite differences, published constants and torch.

Inputs are kept tiny and always float64 C-contiguous 2-D arrays, so the kernels compile once.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from engine import LIMITS
from engine.errors import EngineInputError
from engine.losses import (
    LOSS_CODES,
    LOSSES,
    MSE,
    describe,
    evaluate_loss,
    loss_curve,
    loss_curves,
    loss_value_grad,
    resolve_loss,
)

NAMES = list(LOSSES)
ROWWISE = {"cross_entropy", "cross_entropy_with_logits", "kl_div"}
# parameter sets per loss: defaults plus a couple of other values
PARAM_SETS = {
    "huber": [{}, {"delta": 0.3}, {"delta": 2.5}],
    "smooth_l1": [{}, {"beta": 0.3}, {"beta": 0.0}, {"beta": 2.5}],
    "cross_entropy_with_logits": [{}, {"label_smoothing": 0.1}, {"label_smoothing": 0.65}, {"label_smoothing": 1.0}],
}
CASES = [(n, p) for n in NAMES for p in PARAM_SETS.get(n, [{}])]
CASE_IDS = [n + "".join(f"-{k}={v}" for k, v in p.items()) for n, p in CASES]


# -- an independent reference, written from the formula sheet (numerics.md §Losses) -------------
def reference(name: str, x: np.ndarray, y: np.ndarray, delta=1.0, beta=1.0, label_smoothing=0.0):
    """(value, gradient) for a 2-D batch (rows = samples) in plain numpy."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n_el, n_rows = x.size, x.shape[0]
    d = x - y
    if name == "mse":
        return np.mean(d**2), 2 * d / n_el
    if name == "mae":
        return np.mean(np.abs(d)), np.sign(d) / n_el
    if name == "huber":
        quad = np.abs(d) < delta
        v = np.where(quad, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))
        return v.mean(), np.where(quad, d, delta * np.sign(d)) / n_el
    if name == "smooth_l1":
        if beta == 0:
            return np.mean(np.abs(d)), np.sign(d) / n_el
        quad = np.abs(d) < beta
        v = np.where(quad, 0.5 * d**2 / beta, np.abs(d) - 0.5 * beta)
        return v.mean(), np.where(quad, d / beta, np.sign(d)) / n_el
    if name == "log_cosh":
        return np.mean(np.log(np.cosh(d))), np.tanh(d) / n_el
    if name == "bce":
        with np.errstate(divide="ignore"):
            v = -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))
        return v.mean(), (x - y) / np.maximum(x * (1 - x), np.float32(1e-12)) / n_el
    if name == "bce_with_logits":
        s = 1 / (1 + np.exp(-x))
        v = -(y * np.log(s) + (1 - y) * np.log(1 - s))
        return v.mean(), (s - y) / n_el
    if name == "hinge":
        m = 1 - y * x
        return np.maximum(m, 0).mean(), np.where(m > 0, -y, 0.0) / n_el
    if name == "cross_entropy":
        with np.errstate(divide="ignore"):
            v = -(y * np.maximum(np.log(x), -100)).sum(axis=1)
        return v.mean(), -y / np.maximum(x, np.float32(1e-12)) / n_rows
    if name == "cross_entropy_with_logits":
        k = x.shape[1]
        q = (1 - label_smoothing) * y + label_smoothing / k
        sm = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        v = -(q * np.log(sm)).sum(axis=1)
        return v.mean(), (sm * q.sum(axis=1, keepdims=True) - q) / n_rows
    if name == "kl_div":
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(y > 0, y * (np.log(y) - x), 0.0)
        return v.sum() / n_rows, -y / n_rows
    raise AssertionError(name)


def sample(name: str, shape, rng, params=None):
    """Random inputs away from kinks and domain edges (so finite differences are clean)."""
    params = params or {}
    if name in ("mse", "mae", "huber", "smooth_l1", "log_cosh"):
        x, y = rng.normal(size=shape), rng.normal(size=shape)
        kink = params.get("delta", params.get("beta", 1.0))
        d = x - y
        bad = (np.abs(d) < 1e-3) | (np.abs(np.abs(d) - kink) < 1e-3)
        x[bad] += 0.01
        return x, y
    if name == "bce":
        return rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    if name == "bce_with_logits":
        return rng.normal(scale=3, size=shape), rng.uniform(0, 1, shape)
    if name == "hinge":
        y = rng.choice([-1.0, 1.0], size=shape)
        m = rng.uniform(-2, 2, shape)
        m[np.abs(m) < 0.05] = 0.3  # margin 1 − y·s away from the kink at 0
        return y * (1 - m), y
    k = shape[-1]
    if name == "cross_entropy":
        return rng.uniform(0.05, 1.0, shape), rng.dirichlet(np.ones(k), size=shape[:-1] or None)
    if name == "cross_entropy_with_logits":
        return rng.normal(scale=2, size=shape), rng.dirichlet(np.ones(k), size=shape[:-1] or None)
    if name == "kl_div":
        q = rng.dirichlet(np.ones(k) * 3, size=shape[:-1] or None)
        p = rng.dirichlet(np.ones(k), size=shape[:-1] or None)
        return np.log(q), p
    raise AssertionError(name)


# -- registry and kernel interface ----------------------------------------------------------------
def test_codes_are_stable():
    # other kernels (MLP, training) dispatch on these integers
    assert LOSS_CODES == {
        "mse": 0, "mae": 1, "huber": 2, "smooth_l1": 3, "log_cosh": 4, "bce": 5, "bce_with_logits": 6,
        "cross_entropy": 7, "cross_entropy_with_logits": 8, "hinge": 9, "kl_div": 10,
    }


def test_resolve_loss_packs_params_in_documented_order():
    assert resolve_loss("huber", {"delta": 0.25}).lparams.tolist() == [0.25]
    assert resolve_loss("smooth_l1").lparams.tolist() == [1.0]
    assert resolve_loss("cross_entropy_with_logits", {"label_smoothing": 0.2}).lparams.tolist() == [0.2]
    r = resolve_loss("mse")
    assert r.code == MSE and r.lparams.dtype == np.float64 and r.lparams.size >= 1 and r.lparams.flags.c_contiguous


@pytest.mark.parametrize(
    "name, params, field, words",
    [
        ("nope", None, "loss", "mse"),
        (3, None, "loss", "choose"),
        ("huber", {"delta": 0.0}, "params.delta", "> 0"),
        ("huber", {"delta": -1.0}, "params.delta", ">= 0"),
        ("smooth_l1", {"beta": -0.1}, "params.beta", ">= 0"),
        ("cross_entropy_with_logits", {"label_smoothing": 1.5}, "params.label_smoothing", "<= 1"),
        ("huber", {"delta": "big"}, "params.delta", "number"),
        ("mse", {"delta": 1.0}, "params.delta", "accepted: none"),
        ("huber", [1.0], "params", "object"),
    ],
)
def test_resolve_loss_refuses(name, params, field, words):
    with pytest.raises(EngineInputError) as e:
        resolve_loss(name, params)
    assert e.value.field == field and words in e.value.message


@numba.njit
def _sgd_on_mse(x, y, lr, steps):
    """A caller's own jitted loop: plain gradient descent on the predictions through loss_value_grad."""
    g = np.zeros_like(x)
    lp = np.zeros(1)
    loss = 0.0
    for _ in range(steps):
        loss = loss_value_grad(MSE, x, y, lp, g)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                x[i, j] -= lr * g[i, j]
    return loss


@numba.njit
def _call_each(code, x, y, lp, g):
    return loss_value_grad(code, x, y, lp, g)


def test_kernel_callable_from_another_njit_function():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    x0 = x.copy()
    # x − y shrinks by (1 − 2·lr/N) per step: closed form of GD on the mean squared error
    loss = _sgd_on_mse(x, y, 0.5, 5)
    expect = (1 - 2 * 0.5 / 6) ** 4 * (x0 - y)  # the loss is read before the 5th update
    assert loss == pytest.approx(np.mean(expect**2), rel=1e-12)
    for name in ("huber", "cross_entropy_with_logits"):
        xs, ys = sample(name, (3, 4), rng)
        r = resolve_loss(name, {"delta": 0.5} if name == "huber" else {"label_smoothing": 0.2})
        g = np.zeros_like(xs)
        v = _call_each(r.code, xs, ys, r.lparams, g)
        ev, eg = reference(name, xs, ys, **r.params)
        np.testing.assert_allclose([v], [ev], rtol=1e-12)
        np.testing.assert_allclose(g, eg, rtol=1e-12, atol=1e-15)


def test_unknown_code_gives_nan_not_an_exception():
    g = np.zeros((1, 2))
    assert math.isnan(loss_value_grad(99, np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1), g))


# -- values and gradients -------------------------------------------------------------------------
@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_value_and_gradient_match_reference(name, params):
    rng = np.random.default_rng(hash(name) % 2**32)
    for shape in ((7,), (4, 5), (1, 3)):
        x, y = sample(name, shape, rng, params)
        res = evaluate_loss(name, x.tolist(), y.tolist(), params=params)
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(1, -1) if y.ndim == 1 else y
        ev, eg = reference(name, x2, y2, **params)
        assert res.value == pytest.approx(ev, rel=1e-12, abs=1e-15)
        assert res.gradient.shape == x.shape
        np.testing.assert_allclose(res.gradient, eg.reshape(x.shape), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_gradient_matches_centred_finite_differences(name, params):
    rng = np.random.default_rng(7 + len(name))
    r = resolve_loss(name, params)
    h = 1e-6
    for shape in ((1, 6), (3, 4)):
        x, y = sample(name, shape, rng, params)
        g = np.empty_like(x)
        loss_value_grad(r.code, x, y, r.lparams, g)
        fd = np.empty_like(x)
        scratch = np.empty_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += h
            xm[idx] -= h
            fd[idx] = (loss_value_grad(r.code, xp, y, r.lparams, scratch)
                       - loss_value_grad(r.code, xm, y, r.lparams, scratch)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


# -- published constants and the page's example -----------------------------------------------
def test_page_example_cat_dog_bird():
    p, onehot = [0.7, 0.2, 0.1], [1, 0, 0]
    mse = evaluate_loss("mse", p, onehot)
    assert mse.value == pytest.approx(0.14 / 3, rel=1e-14)
    assert round(mse.value, 6) == 0.046667
    np.testing.assert_allclose(mse.gradient, [2 * -0.3 / 3, 2 * 0.2 / 3, 2 * 0.1 / 3], rtol=1e-14)
    ce = evaluate_loss("cross_entropy", p, onehot)
    assert ce.value == pytest.approx(-math.log(0.7), rel=1e-15)
    assert round(ce.value, 6) == 0.356675
    np.testing.assert_allclose(ce.gradient, [-1 / 0.7, 0, 0], rtol=1e-15)


def test_worked_values_from_the_reference_sheet():
    # numerics-detailed.md §6, checked there against torch
    logits = [[1, 2, 3], [1, 1, 1]]
    probs = [[0.2, 0.3, 0.5], [1, 0, 0]]
    onehot = [[1, 0, 0], [0, 0, 1]]
    ce = "cross_entropy_with_logits"
    assert evaluate_loss(ce, logits, onehot).value == pytest.approx(1.7531091265562453, rel=1e-14)
    r = evaluate_loss(ce, logits, onehot, params={'label_smoothing': 0.1})
    assert r.value == pytest.approx(1.7031091265562452, rel=1e-14)
    np.testing.assert_allclose(r.gradient[1], [0.15, 0.15, -0.3], rtol=1e-12)  # the mean-reduced gradient
    assert evaluate_loss(ce, logits, probs).value == pytest.approx(1.1031091265562452, rel=1e-14)
    assert evaluate_loss(ce, logits, probs, params={'label_smoothing': 0.1}).value == pytest.approx(1.118109126556245, rel=1e-14)
    per = [0.126928011, 0.313261688, 0.693147181, 50.0]
    assert evaluate_loss("bce_with_logits", [2, -1, 0, 50], [1, 0, 1, 0]).value == pytest.approx(np.mean(per), rel=1e-9)
    kl = evaluate_loss("kl_div", np.log([[0.25, 0.25, 0.5], [0.1, 0.6, 0.3]]), [[0.5, 0.5, 0], [0.2, 0.3, 0.5]])
    assert kl.value == pytest.approx(0.43962263719347305, rel=1e-14)


def test_closed_forms_of_simple_cases():
    # huber(δ) = δ·smooth_l1(β = δ), for values and gradients
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    h = evaluate_loss("huber", x, y, params={'delta': 0.7})
    s = evaluate_loss("smooth_l1", x, y, params={'beta': 0.7})
    assert h.value == pytest.approx(0.7 * s.value, rel=1e-13)
    np.testing.assert_allclose(h.gradient, 0.7 * s.gradient, rtol=1e-13)
    # |d| = δ takes the linear branch (gradient δ·sign(d)), as torch
    assert evaluate_loss("huber", [2.0], [0.0], params={'delta': 2.0}).gradient.tolist() == [2.0]
    # sign(0) = 0 for mae and smooth_l1(β = 0)
    assert evaluate_loss("mae", [1.0, 2.0], [1.0, 0.0]).gradient.tolist() == [0.0, 0.5]
    assert evaluate_loss("smooth_l1", [1.0], [1.0], params={'beta': 0.0}).gradient.tolist() == [0.0]
    # hinge: zero loss and gradient once the margin is met, gradient 0 at the kink
    r = evaluate_loss("hinge", [2.0, 1.0, 0.5, -0.5], [1, 1, 1, -1])
    assert r.value == pytest.approx(0.5 / 4 + 0.5 / 4) and r.gradient.tolist() == [0.0, 0.0, -0.25, 0.25]
    # log-cosh: ½d² for small d, |d| − log 2 for large d
    assert evaluate_loss("log_cosh", [1e-4], [0.0]).value == pytest.approx(0.5e-8, rel=1e-7)
    assert evaluate_loss("log_cosh", [800.0], [0.0]).value == pytest.approx(800 - math.log(2), rel=1e-15)
    # label smoothing 1 makes the target uniform whatever it was
    z = [[0.3, -1.2, 2.0]]
    a = evaluate_loss("cross_entropy_with_logits", z, [[1, 0, 0]], params={'label_smoothing': 1.0})
    b = evaluate_loss("cross_entropy_with_logits", z, [[0, 0, 1]], params={'label_smoothing': 1.0})
    assert a.value == b.value
    # KL(p ‖ p) = 0, and the gradient is −p/B
    p = np.array([[0.2, 0.3, 0.5]])
    r = evaluate_loss("kl_div", np.log(p), p)
    assert abs(r.value) < 1e-15 and r.gradient.tolist() == (-p).tolist()


def test_one_d_rowwise_input_is_one_sample():
    # cross-entropy / kl_div: a 1-D vector is one sample, so the loss is the row's sum (B = 1)
    x, y = [0.5, 0.25, 0.25], [0.0, 1.0, 0.0]
    assert evaluate_loss("cross_entropy", x, y).value == pytest.approx(math.log(4), rel=1e-15)
    assert evaluate_loss("kl_div", np.log(x), y).value == pytest.approx(math.log(4), rel=1e-15)
    one = evaluate_loss("cross_entropy_with_logits", [1.0, 2.0], [0, 1])
    two = evaluate_loss("cross_entropy_with_logits", [[1.0, 2.0]], [[0, 1]])
    assert one.value == two.value and one.gradient.shape == (2,) and two.gradient.shape == (1, 2)
    # elementwise losses average over every element, whatever the layout
    assert evaluate_loss("mse", [[1.0, 2.0], [3.0, 4.0]], [[0, 0], [0, 0]]).value == pytest.approx(7.5)


# -- stability at the extremes --------------------------------------------------------------------
def test_extremes_stay_finite():
    big = [1000.0, -1000.0, 0.0, 50.0]
    r = evaluate_loss("bce_with_logits", big, [0.0, 1.0, 1.0, 1.0])
    assert np.isfinite(r.value) and np.isfinite(r.gradient).all()
    assert r.value == pytest.approx((1000 + 1000 + math.log(2) + math.log1p(math.exp(-50))) / 4, rel=1e-14)
    # σ(50) − 1 rounds to 0 in float64 (torch computes σ(x) − y the same way)
    np.testing.assert_allclose(r.gradient * 4, [1.0, -1.0, -0.5, -1 / (1 + math.exp(50))], rtol=1e-14, atol=1e-20)
    r = evaluate_loss("cross_entropy_with_logits", [[1000.0, -1000.0, 0.0]], [[0, 1, 0]], params={'label_smoothing': 0.1})
    assert r.value == pytest.approx((0.9 + 0.1 / 3) * 2000 + 0.1 / 3 * 1000, rel=1e-14)
    np.testing.assert_allclose(r.gradient, [[1 - 0.1 / 3, -(0.9 + 0.1 / 3), -0.1 / 3]], rtol=1e-14)
    # BCE: p = 0 or 1 against the opposite label is the clamp, 100
    r = evaluate_loss("bce", [0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0])
    assert r.value == 50.0 and np.isfinite(r.gradient).all()
    assert r.gradient.tolist()[2:] == [0.0, 0.0]
    # cross-entropy from probabilities: p = 0 on the true class is the clamp, finite gradient
    r = evaluate_loss("cross_entropy", [0.0, 1.0], [1.0, 0.0])
    assert r.value == 100.0 and np.isfinite(r.gradient).all() and r.gradient[1] == 0.0
    # kl_div with a zero target on a very negative log-probability
    r = evaluate_loss("kl_div", [-1e6, 0.0], [0.0, 1.0])
    assert r.value == 0.0 and r.gradient.tolist() == [-0.0, -1.0]
    # large regression errors (within the ±1e100 input bound) stay finite
    r = evaluate_loss("mse", [1e100, -1e100], [-1e100, 1e100])
    assert np.isfinite(r.value) and np.isfinite(r.gradient).all()


# -- torch as an oracle ---------------------------------------------------------------------------
def _torch_losses(torch):
    F = torch.nn.functional
    return {
        "mse": lambda x, y, p: F.mse_loss(x, y),
        "mae": lambda x, y, p: F.l1_loss(x, y),
        "huber": lambda x, y, p: F.huber_loss(x, y, delta=p.get("delta", 1.0)),
        "smooth_l1": lambda x, y, p: F.smooth_l1_loss(x, y, beta=p.get("beta", 1.0)),
        "log_cosh": lambda x, y, p: torch.log(torch.cosh(x - y)).mean(),
        "bce": lambda x, y, p: F.binary_cross_entropy(x, y),
        "bce_with_logits": lambda x, y, p: F.binary_cross_entropy_with_logits(x, y),
        "hinge": lambda x, y, p: torch.clamp(1 - y * x, min=0).mean(),
        "cross_entropy": lambda x, y, p: -(y * torch.clamp(torch.log(x), min=-100)).sum(dim=1).mean(),
        "cross_entropy_with_logits":
            lambda x, y, p: F.cross_entropy(x, y, label_smoothing=p.get("label_smoothing", 0.0)),
        "kl_div": lambda x, y, p: F.kl_div(x, y, reduction="batchmean"),
    }


@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_matches_torch(name, params):
    torch = pytest.importorskip("torch")
    fn = _torch_losses(torch)[name]
    rng = np.random.default_rng(11 + len(name))
    for shape in ((5, 4), (1, 3)):
        x, y = sample(name, shape, rng, params)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        expected = fn(xt, torch.tensor(y, dtype=torch.float64), params)
        expected.backward()
        res = evaluate_loss(name, x, y, params=params)
        assert res.value == pytest.approx(expected.item(), rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(res.gradient, xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_matches_torch_at_the_extremes():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    cases = [
        ("bce", F.binary_cross_entropy, {},
         [[0.0, 1.0, 1 - 1e-9, 1e-300, 1 - 1e-17, 0.5]], [[1.0, 0.0, 0.4, 0.5, 0.5, 1.0]]),
        ("bce_with_logits", F.binary_cross_entropy_with_logits, {},
         [[1000.0, -1000.0, 0.0, 50.0, -50.0, 1e-8]], [[0.0, 1.0, 1.0, 0.0, 0.3, 1.0]]),
        ("cross_entropy_with_logits", lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2), {"label_smoothing": 0.2},
         [[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]], [[0, 1.0, 0], [0.5, 0.5, 0]]),
        ("kl_div", lambda a, b: F.kl_div(a, b, reduction="batchmean"), {},
         [[-1e6, 0.0, -3.0], [-1.0, -2.0, -0.5]], [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    ]
    for name, fn, params, x, y in cases:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        expected = fn(xt, torch.tensor(y, dtype=torch.float64))
        expected.backward()
        res = evaluate_loss(name, x, y, params=params)
        assert res.value == pytest.approx(expected.item(), rel=1e-12), name
        np.testing.assert_allclose(res.gradient, xt.grad.numpy(), rtol=1e-12, atol=1e-300, err_msg=name)


# -- input validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, x, y, params, field, words",
    [
        ("mse", [1.0, 2.0], [1.0], {}, "targets", "does not match"),
        ("mse", [[1.0, 2.0]], [1.0, 2.0], {}, "targets", "does not match"),
        ("mse", [], [], {}, "predictions", "empty"),
        ("mse", [[[1.0]]], [[[1.0]]], {}, "predictions", "3-D"),
        ("mse", [[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0]], {}, "predictions", "equal length"),
        ("mse", ["a", "b"], [1.0, 2.0], {}, "predictions", "numbers"),
        ("mse", "12", [1.0, 2.0], {}, "predictions", "numbers"),
        ("mse", [1.0, math.nan], [1.0, 2.0], {}, "predictions", "finite"),
        ("mse", [1.0, 2.0], [1.0, math.inf], {}, "targets", "finite"),
        ("mse", [1e101, 2.0], [1.0, 2.0], {}, "predictions", "1e+100"),
        ("bce", [0.5, 1.5], [1.0, 0.0], {}, "predictions", "[0, 1]"),
        ("bce", [0.5, 0.5], [1.0, -0.1], {}, "targets", "[0, 1]"),
        ("cross_entropy", [0.5, -0.5], [1.0, 0.0], {}, "predictions", "[0, 1]"),
        ("cross_entropy_with_logits", [5.0, -5.0], [2.0, 0.0], {}, "targets", "[0, 1]"),
        ("hinge", [0.5, 0.5], [1.0, 0.0], {}, "targets", "-1.0, 1.0"),
        ("kl_div", [-0.5, 0.5], [0.5, 0.5], {}, "predictions", "log-probabilities"),
        ("kl_div", [-0.5, -0.5], [1.5, 0.5], {}, "targets", "[0, 1]"),
        ("nope", [1.0], [1.0], {}, "loss", "mse"),
        ("huber", [1.0], [1.0], {"delta": 0}, "params.delta", "> 0"),
        ("huber", [1.0], [1.0], {"delta": math.nan}, "params.delta", "finite"),
        ("mse", [1.0], [1.0], {"label_smoothing": 2.0}, "params.label_smoothing", "<= 1"),
        ("mse", [1.0], [1.0], {"delat": 1.0}, "params.delat", "unknown"),
        ("mse", [1.0], [1.0], {"delta": 1.0}, "params.delta", "takes no parameter"),
        ("huber", [1.0], [1.0], {"beta": 1.0}, "params.beta", "takes no parameter"),
    ],
)
def test_evaluate_refuses(name, x, y, params, field, words):
    with pytest.raises(EngineInputError) as e:
        evaluate_loss(name, x, y, params=params)
    assert e.value.field == field and words in e.value.message, str(e.value)


def test_element_limit_is_checked_before_the_kernel():
    n = LIMITS["max_loss_elements"]
    assert evaluate_loss("mse", np.ones(n), np.zeros(n)).value == 1.0
    with pytest.raises(EngineInputError) as e:
        evaluate_loss("mse", np.ones(n + 1), np.zeros(n + 1))
    assert e.value.field == "predictions" and "max_loss_elements" in e.value.message


def test_parameters_a_loss_does_not_take_are_refused_by_name():
    # the example: beta on huber used to be silently ignored
    with pytest.raises(EngineInputError) as e:
        evaluate_loss("huber", [3.0], [0.0], params={"delta": 0.5, "beta": 2.0})
    assert e.value.field == "params.beta"
    r = evaluate_loss("huber", [3.0], [0.0], params={"delta": 0.5})
    assert r.value == 0.5 * (3 - 0.25) and r.params == {"delta": 0.5} and r.ignored == ()


# -- penalty curves -------------------------------------------------------------------------------
CURVE_PARAMS = {"delta": 0.8, "beta": 0.6, "label_smoothing": 0.2}


def test_curve_derivative_matches_finite_differences_of_the_value():
    res = loss_curves(NAMES, points=101, params=CURVE_PARAMS)
    assert [c.loss for c in res.curves] == NAMES and res.ignored == ()
    h = 1e-6
    for c in res.curves:
        r = resolve_loss(c.loss, c.params)
        x = c.x[(c.x > c.x[0] + 2 * h) & (c.x < c.x[-1] - 2 * h)]
        kinks = {"huber": [-0.8, 0.8], "smooth_l1": [-0.6, 0.6], "mae": [0.0], "hinge": [math.e / (1 + math.e)]}
        for k in kinks.get(c.loss, []):
            x = x[np.abs(x - k) > 1e-3]
        vp, vm, dp, dm = (np.empty_like(x) for _ in range(4))
        loss_curve(r.code, r.lparams, x + h, vp, dp)
        loss_curve(r.code, r.lparams, x - h, vm, dm)
        d = np.interp(x, c.x, c.derivative)  # x are grid points: interp returns the grid value
        np.testing.assert_allclose(d, (vp - vm) / (2 * h), rtol=1e-5, atol=1e-7, err_msg=c.loss)
        assert np.isfinite(c.value).all() and np.isfinite(c.derivative).all()


def test_curves_axes_labels_and_defaults():
    res = loss_curves(["mse", "bce"], points=5)
    mse, bce = res.curves
    np.testing.assert_array_equal(mse.x, np.linspace(-3, 3, 5))
    np.testing.assert_array_equal(bce.x, np.linspace(0.01, 1, 5))
    assert "error" in mse.x_label and "probability" in bce.x_label
    assert mse.kind == "regression" and bce.kind == "classification"
    np.testing.assert_allclose(mse.value, mse.x**2, rtol=1e-15)
    np.testing.assert_allclose(mse.derivative, 2 * mse.x, rtol=1e-15)
    np.testing.assert_allclose(bce.value, -np.log(bce.x), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(bce.derivative, -1 / bce.x, rtol=1e-15)


def test_huber_curve_is_the_closed_form():
    c = loss_curves(["huber"], points=61, x_range=(-4, 4), params={"delta": 1.5}).curves[0]
    d = c.x
    np.testing.assert_allclose(c.value, np.where(np.abs(d) < 1.5, 0.5 * d**2, 1.5 * (np.abs(d) - 0.75)), rtol=1e-15)
    np.testing.assert_allclose(c.derivative, np.clip(d, -1.5, 1.5), rtol=1e-15)


def test_curves_agree_with_the_losses_they_picture():
    """Each classification curve is the real loss of the sample its convention describes."""
    res = loss_curves(NAMES, points=9, p_range=(0.05, 0.95), params={"label_smoothing": 0.3})
    for c in res.curves:
        for x, v, dv in zip(c.x, c.value, c.derivative):
            if c.kind == "regression":
                r = evaluate_loss(c.loss, [x], [0.0], params=c.params)
                assert v == pytest.approx(r.value, rel=1e-14) and dv == pytest.approx(r.gradient[0], rel=1e-14)
                continue
            z = math.log(x / (1 - x))
            dz = 1 / (x * (1 - x))  # d logit / d p
            if c.loss in ("bce", "cross_entropy"):
                if c.loss == "cross_entropy":
                    r = evaluate_loss(c.loss, [1 - x, x], [0.0, 1.0])
                else:
                    r = evaluate_loss("bce", [x], [1.0])
                g = r.gradient[-1]
            elif c.loss == "bce_with_logits":
                r = evaluate_loss(c.loss, [z], [1.0])
                g = r.gradient[0] * dz
            elif c.loss == "hinge":
                r = evaluate_loss(c.loss, [z], [1.0])
                g = r.gradient[0] * dz
            elif c.loss == "cross_entropy_with_logits":
                r = evaluate_loss(c.loss, [0.0, z], [0.0, 1.0], params=c.params)
                g = r.gradient[1] * dz
            else:  # kl_div: input [log(1 − p), log p]; d/dp through both inputs
                r = evaluate_loss(c.loss, [math.log(1 - x), math.log(x)], [0.0, 1.0])
                g = r.gradient[0] * -1 / (1 - x) + r.gradient[1] / x
            assert v == pytest.approx(r.value, rel=1e-12), c.loss
            assert dv == pytest.approx(g, rel=1e-9), c.loss


def test_curve_points_that_are_not_finite_are_left_out():
    # p = 1 with label smoothing: −(ε/2)·log(1 − p) is infinite there
    c = loss_curves(["cross_entropy_with_logits"], points=11, params={"label_smoothing": 0.1}).curves[0]
    assert c.omitted == 1 and c.x.size == 10 and c.x[-1] < 1.0 and np.isfinite(c.value).all()
    c = loss_curves(["cross_entropy_with_logits"], points=11).curves[0]
    assert c.omitted == 0 and c.x[-1] == 1.0 and c.value[-1] == 0.0


def test_label_smoothing_moves_the_minimum_off_certainty():
    c = loss_curves(["cross_entropy_with_logits"], points=1001, p_range=(0.5, 0.999), params={"label_smoothing": 0.2}).curves[0]
    assert c.x[np.argmin(c.value)] == pytest.approx(1 - 0.1, abs=1e-3)  # q' = [ε/2, 1 − ε/2]


@pytest.mark.parametrize(
    "kwargs, field, words",
    [
        (dict(losses="mse"), "losses", "list"),
        (dict(losses=[]), "losses", "at least one"),
        (dict(losses=["mse", "nope"]), "losses", "choose one of"),
        (dict(losses=["mse"] * (LIMITS["max_curve_losses"] + 1)), "losses", "max_curve_losses"),
        (dict(losses=["mse"], points=1), "points", ">= 2"),
        (dict(losses=["mse"], points=2.5), "points", "integer"),
        (dict(losses=["mse"], points=LIMITS["max_curve_points"] + 1), "points", "max_curve_points"),
        (dict(losses=["mse"], x_range=(1, -1)), "x_range", "low < high"),
        (dict(losses=["mse"], x_range=(0, 2e6)), "x_range", "within"),
        (dict(losses=["mse"], x_range="ab"), "x_range", "two numbers"),
        (dict(losses=["bce"], p_range=(0.0, 1.0)), "p_range", "(0, 1]"),
        (dict(losses=["bce"], p_range=(0.5, 1.5)), "p_range", "(0, 1]"),
        (dict(losses=["huber"], params={"delta": -1.0}), "params.delta", ">= 0"),
        (dict(losses=["huber"], params={"gamma": 1.0}), "params.gamma", "unknown"),
        (dict(losses=["mse", "huber"], params={"label_smoothing": 0.1}), "params.label_smoothing", "none of"),
    ],
)
def test_curves_refuse(kwargs, field, words):
    with pytest.raises(EngineInputError) as e:
        loss_curves(**kwargs)
    assert e.value.field == field and words in e.value.message, str(e.value)


def test_curves_pass_parameters_to_the_losses_that_take_them():
    res = loss_curves(["mse", "huber"], points=3, params={"delta": 0.5})
    assert res.ignored == ()
    assert res.curves[0].params == {} and res.curves[1].params == {"delta": 0.5}


# -- catalog --------------------------------------------------------------------------------------
def test_describe_lists_every_loss():
    entries = {e["name"]: e for e in describe()}
    assert list(entries) == NAMES
    for e in entries.values():
        assert {"title", "formula", "derivative", "parameters", "kind", "predictions", "targets", "reduction"} <= set(e)
        assert e["kind"] in ("regression", "classification")
    assert entries["huber"]["parameters"][0]["name"] == "delta" and entries["huber"]["parameters"][0]["default"] == 1.0
    assert entries["cross_entropy_with_logits"]["parameters"][0]["high"] == 1.0
    assert "log" in entries["kl_div"]["predictions"]
