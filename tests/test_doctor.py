"""engine.doctor: the right diagnosis for hand-made curves of each kind, the path, the edges."""

import math

import numpy as np
import pytest

from engine import doctor
from engine.doctor import diagnose
from engine.errors import EngineInputError
from engine.limits import LIMITS

E = np.arange(1, 201, dtype=float)
RNG = np.random.default_rng(0)

CURVES = {
    # loss falls then sits at its floor
    "converged": (0.1 + np.exp(-E / 20), None),
    # too high an lr: the loss grows geometrically
    "diverging": (np.exp(E / 50), None),
    # a one-epoch blow-up that then recovers (ends below its start)
    "exploding": (np.where(E == 120, 30.0, 0.1 + np.exp(-E / 20)), None),
    # stuck: 2% improvement over 200 epochs
    "plateau": (1.0 - 1e-4 * E, None),
    # the tail jitters by +-30% around its level
    "noisy": (0.1 + np.exp(-E / 20) + 0.03 * RNG.standard_normal(200), None),
    # train keeps falling, validation turns up after epoch 60
    "overfitting": (0.01 + np.exp(-E / 30), 0.2 + np.exp(-E / 30) + 0.002 * np.maximum(E - 60, 0)),
    # still falling at the end
    "underfitting": (1.0 / np.sqrt(E), None),
}


@pytest.mark.parametrize("kind", sorted(CURVES))
def test_hand_made_curves(kind):
    train, val = CURVES[kind]
    d = diagnose(train, val)
    assert d.diagnosis == kind
    assert d.action == doctor.ACTIONS.get(kind, d.action)
    path = [n["node"] for n in d.tree]
    order = ["non_finite", "growth", "spike", "plateau", "noisy", "overfitting", "still_falling", "high_level"]
    assert path == order[: len(path)]  # the tree is walked top to bottom
    assert all(n["answer"] is False for n in d.tree[:-1])
    if kind != "converged":
        assert d.tree[-1]["answer"] is True


def test_underfitting_levelled_off_high():
    d = diagnose(0.7 + 0.3 * np.exp(-E / 10))
    assert d.diagnosis == "underfitting" and d.evidence["reason"] == "levelled off high"
    assert d.tree[-1]["node"] == "high_level"
    assert d.evidence["ratio"] == pytest.approx(0.7 / (0.7 + 0.3 * math.exp(-0.1)), rel=1e-3)


def test_overfitting_evidence_points_at_the_minimum():
    train, val = CURVES["overfitting"]
    d = diagnose(train, val)
    assert d.evidence["best_val_epoch"] == int(np.argmin(val)) + 1
    assert d.evidence["best_val_loss"] == pytest.approx(val.min())
    assert d.evidence["gap"] == pytest.approx(val[-1] - train[-1])


def test_nan_and_inf_mean_diverging_and_stay_out_of_the_evidence():
    d = diagnose([1.0, 0.8, 0.6, None, None, None])
    assert d.diagnosis == "diverging"
    assert d.evidence == {"curve": "train_loss", "first_non_finite_epoch": 4, "last_finite_epoch": 3,
                          "last_finite_value": 0.6}
    d = diagnose([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 0.9, math.inf, 0.8, 0.7])
    assert d.diagnosis == "diverging" and d.evidence["curve"] == "val_loss"
    assert d.evidence["first_non_finite_epoch"] == 3


def test_thresholds_are_the_named_constants():
    # growth: an end exactly at DIVERGE_RATIO x the start diverges, just below does not
    flat_end = lambda r: np.r_[1.0, np.full(9, r)]  # noqa: E731
    assert diagnose(flat_end(doctor.DIVERGE_RATIO)).diagnosis == "diverging"
    assert diagnose(flat_end(doctor.DIVERGE_RATIO * 0.99)).diagnosis != "diverging"
    # plateau: a best loss 4% below the start is a plateau, 6% is not
    assert diagnose(np.r_[1.0, np.full(9, 0.96)]).diagnosis == "plateau"
    assert diagnose(np.r_[1.0, np.full(9, 0.94)]).diagnosis != "plateau"


def test_bad_input():
    with pytest.raises(EngineInputError) as e:
        diagnose([1.0, 0.5])
    assert e.value.field == "train_loss"
    with pytest.raises(EngineInputError) as e:
        diagnose([1.0] * 6, [1.0] * 5)
    assert e.value.field == "val_loss"
    with pytest.raises(EngineInputError):
        diagnose([1.0, 0.5, -0.1, 0.2, 0.1])
    with pytest.raises(EngineInputError):
        diagnose([1.0, "0.5", 0.3, 0.2, 0.1])
    with pytest.raises(EngineInputError, match="max_doctor_epochs"):
        diagnose(np.ones(LIMITS["max_doctor_epochs"] + 1))


def test_doctor_on_the_engines_own_runs():
    from engine.training import train

    over = train(dataset={"name": "sine", "n_train": 30, "n_val": 200, "noise": 0.3, "seed": 0},
                 model={"layers": [1, 64, 64, 1], "activation": "tanh"}, optimizer={"name": "adam", "lr": 0.01},
                 epochs=600, batch_size=30, seed=0)
    d = diagnose(over.history.train_loss, over.history.val_loss)
    assert d.diagnosis == "overfitting"
    assert d.evidence["best_val_epoch"] == int(np.argmin(over.history.val_loss)) + 1
    div = train(dataset={"name": "sine", "n_train": 30, "n_val": 50, "seed": 0},
                model={"layers": [1, 16, 16, 1], "activation": "tanh"},
                optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9}, epochs=300, batch_size=10, seed=0)
    assert div.stop_reason == "diverged"
    d = diagnose(div.history.train_loss, div.history.val_loss)
    assert d.diagnosis == "diverging" and d.tree[-1]["node"] == "growth"
    # a user's log that kept the blow-up as NaN (null in JSON) is diverging at the first NaN
    d = diagnose(list(div.history.train_loss) + [None])
    assert d.evidence["first_non_finite_epoch"] == div.stopped_epoch


def test_short_curves_are_not_smoothed_away():
    d = diagnose([1.0, 0.6, 0.4, 0.3, 0.25, 0.22, 0.2], [1.0, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7])
    assert d.diagnosis == "overfitting"
    assert d.evidence["best_val_epoch"] == 4 and d.evidence["val_rise"] == pytest.approx(0.7 / 0.45 - 1)
