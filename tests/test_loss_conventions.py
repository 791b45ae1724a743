"""torch's loss conventions in engine.evaluate_loss: integer class labels (as F.cross_entropy's class
indices) and reduction = mean | sum | none, each against one-hot targets and torch itself."""

from __future__ import annotations

import numpy as np
import pytest

from engine import EngineInputError, evaluate_loss

RNG = np.random.default_rng(14)
LOGITS = RNG.normal(size=(6, 4)) * 3.0
LABELS = np.array([0, 3, 1, 1, 2, 0])
ONEHOT = np.eye(4)[LABELS]
PROBS = RNG.uniform(0.05, 1.0, size=(6, 4))
PROBS /= PROBS.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("name, pred, params", [
    ("cross_entropy_with_logits", LOGITS, {}),
    ("cross_entropy_with_logits", LOGITS, {"label_smoothing": 0.15}),
    ("cross_entropy", PROBS, {}),
])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_integer_labels_equal_one_hot_targets(name, pred, params, reduction):
    a = evaluate_loss(name, pred, LABELS, params=params, reduction=reduction)
    b = evaluate_loss(name, pred, ONEHOT, params=params, reduction=reduction)
    assert a.labels and not b.labels
    assert a.value == b.value
    np.testing.assert_array_equal(a.gradient, b.gradient)
    if reduction == "none":
        np.testing.assert_array_equal(a.values, b.values)


def test_one_sample_takes_a_scalar_label():
    a = evaluate_loss("cross_entropy_with_logits", LOGITS[1], LABELS[1])
    b = evaluate_loss("cross_entropy_with_logits", LOGITS[1], ONEHOT[1])
    assert a.value == b.value and a.gradient.shape == (4,)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_labels_match_torch_cross_entropy(reduction, smoothing):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
    out = F.cross_entropy(x, torch.tensor(LABELS), reduction=reduction, label_smoothing=smoothing)
    out.sum().backward()  # 'none': the gradient of the sum, as evaluate_loss documents
    r = evaluate_loss("cross_entropy_with_logits", LOGITS, LABELS, params={"label_smoothing": smoothing},
                      reduction=reduction)
    if reduction == "none":
        np.testing.assert_allclose(r.values, out.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert r.value == pytest.approx(out.sum().item(), rel=1e-12)
    np.testing.assert_allclose(r.gradient, x.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_labels_on_probabilities_match_torch_nll_of_log(reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p = torch.tensor(PROBS, dtype=torch.float64, requires_grad=True)
    out = F.nll_loss(torch.log(p), torch.tensor(LABELS), reduction=reduction)
    out.sum().backward()
    r = evaluate_loss("cross_entropy", PROBS, LABELS, reduction=reduction)
    assert r.value == pytest.approx(out.sum().item(), rel=1e-12)
    np.testing.assert_allclose(r.gradient, p.grad.numpy(), rtol=1e-12, atol=1e-15)


TORCH_ELEMENTWISE = {
    "mse": lambda F, x, y, red: F.mse_loss(x, y, reduction=red),
    "mae": lambda F, x, y, red: F.l1_loss(x, y, reduction=red),
    "huber": lambda F, x, y, red: F.huber_loss(x, y, reduction=red, delta=0.7),
    "smooth_l1": lambda F, x, y, red: F.smooth_l1_loss(x, y, reduction=red, beta=0.7),
    "bce_with_logits": lambda F, x, y, red: F.binary_cross_entropy_with_logits(x, y, reduction=red),
    "bce": lambda F, x, y, red: F.binary_cross_entropy(x, y, reduction=red),
}
PARAMS = {"huber": {"delta": 0.7}, "smooth_l1": {"beta": 0.7}}


@pytest.mark.parametrize("name", sorted(TORCH_ELEMENTWISE))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reduction_matches_torch(name, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    if name == "bce":
        x, y = rng.uniform(0.05, 0.95, (5, 3)), rng.uniform(0, 1, (5, 3))
    else:
        x, y = rng.normal(size=(5, 3)) * 2, rng.uniform(0, 1, (5, 3))
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = TORCH_ELEMENTWISE[name](torch.nn.functional, xt, torch.tensor(y, dtype=torch.float64), reduction)
    out.sum().backward()
    r = evaluate_loss(name, x, y, params=PARAMS.get(name), reduction=reduction)
    assert r.reduction == reduction and r.reduced.startswith(reduction)
    assert r.value == pytest.approx(out.sum().item(), rel=1e-12)
    np.testing.assert_allclose(r.gradient, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    if reduction == "none":
        np.testing.assert_allclose(r.values, out.detach().numpy(), rtol=1e-12, atol=1e-15)
    else:
        assert r.values is None


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_kl_div_sum_and_none_match_torch(reduction):
    torch = pytest.importorskip("torch")
    logq = np.log(PROBS)
    target = np.roll(PROBS, 1, axis=1)
    target[0, 0] = 0.0
    xt = torch.tensor(logq, requires_grad=True)
    out = torch.nn.functional.kl_div(xt, torch.tensor(target), reduction=reduction)
    out.sum().backward()
    r = evaluate_loss("kl_div", logq, target, reduction=reduction)
    assert r.value == pytest.approx(out.sum().item(), rel=1e-12)
    np.testing.assert_allclose(r.gradient, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    if reduction == "none":
        np.testing.assert_allclose(r.values, out.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_reduction_says_what_was_reduced():
    assert evaluate_loss("mse", np.zeros((2, 3)), np.ones((2, 3))).reduced == "mean over all 6 elements"
    assert evaluate_loss("cross_entropy_with_logits", LOGITS, LABELS).reduced == "mean over 6 rows"
    assert evaluate_loss("cross_entropy_with_logits", LOGITS, LABELS, reduction="sum").reduced == "sum over 6 rows"
    r = evaluate_loss("mse", [1.0, 3.0], [0.0, 0.0], reduction="none")
    assert r.values.tolist() == [1.0, 9.0] and r.value == 10.0 and r.gradient.tolist() == [2.0, 6.0]


@pytest.mark.parametrize("name, pred, targets, words", [
    ("cross_entropy_with_logits", LOGITS, np.array([0, 4, 1, 1, 2, 0]), "[0, 4)"),
    ("cross_entropy_with_logits", LOGITS, np.array([0, -1, 1, 1, 2, 0]), "[0, 4)"),
    ("cross_entropy_with_logits", LOGITS, LABELS.astype(float), "integers"),
    ("cross_entropy_with_logits", LOGITS, LABELS[:5], "does not match"),
    ("kl_div", np.log(PROBS), LABELS, "class labels are accepted by"),
    ("mse", LOGITS, LABELS, "does not match"),
])
def test_bad_labels_are_refused(name, pred, targets, words):
    with pytest.raises(EngineInputError) as e:
        evaluate_loss(name, pred, targets)
    assert e.value.field == "targets" and words in e.value.message, str(e.value)


def test_unknown_reduction_is_refused():
    for bad in ("avg", None, 1):
        with pytest.raises(EngineInputError) as e:
            evaluate_loss("mse", [1.0], [1.0], reduction=bad)
        assert e.value.field == "reduction"
