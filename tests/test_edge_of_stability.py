"""The training option ``curvature`` (engine.edge_of_stability): sharpness every k epochs, the preconditioned
sharpness of adaptive optimizers, the stability thresholds, and the documented edge-of-stability preset.

The bar (issue 17): on the preset, λ_max ends within 15% of 2/η for at least three learning rates, and stays
well below 2/η for a learning rate 10x smaller. Oracles besides: numpy's eigvalsh of the full Hessian (built
column by column from HVPs, themselves checked against torch in tests/test_hvp.py) at the recorded weights;
Adam's preconditioner replayed in numpy from exact gradients; the thresholds against the engine's own
optimizer steps on a quadratic (converge just below, diverge just above).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.edge_of_stability import PRESET, PRESET_LRS, PRESETS, edge_of_stability_preset
from engine.sharpness import _threshold
from engine.errors import EngineInputError
from engine.hvp import mlp_hessian
from engine.mlp_kernels import IN, OUT, W_OFF
from engine.optimizers import new_state, optimizer_step, resolve_optimizer
from engine.regularization import compare
from engine.training import stream, train
from engine.training_setup import prepare


def _body(**over):
    body = {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESET.items()}
    body.update(over)
    return body


def _small(**over):
    """A 1-8-1 tanh net on 12 points: small enough for dense Hessians in every test."""
    return _body(**{"dataset": {"name": "polynomial", "degree": 3, "n_train": 12, "n_val": 4, "noise": 0.0, "seed": 1},
                    "model": {"layers": [1, 8, 1], "activation": "tanh", "init": {"name": "normal", "std": 0.5}},
                    "batch_size": 12, **over})


def _dense(body, params, shift=None):
    """The full Hessian of the body's training split at ``params`` (plus a diagonal ``shift``), and the gradient."""
    s = prepare(**{k: v for k, v in body.items() if k != "curvature"})
    h = mlp_hessian(s.net, params, s.data.X_train, s.Y, s.loss_name)
    H = h.matrix().matrix
    return (H if shift is None else H + np.diag(shift)), h.grad, s


@pytest.fixture(scope="module")
def traces():
    return {lr: train(**_body(optimizer={"name": "sgd", "lr": lr})) for lr in PRESET_LRS + (PRESET_LRS[-1] / 10,)}


def test_sharpness_rises_to_two_over_lr_and_hovers_there(traces):
    H0, _, _ = _dense(PRESET, prepare(**{k: v for k, v in PRESET.items() if k != "curvature"}).params0)
    start = np.linalg.eigvalsh(H0)[-1]
    for lr in PRESET_LRS:
        r = traces[lr]
        h = r.history
        assert r.stop_reason == "completed" and r.epochs_run == PRESET["epochs"]
        np.testing.assert_allclose(h.threshold, 2.0 / lr)
        assert start < 2.0 / lr  # it starts below the threshold: what gets there is sharpening
        assert abs(h.sharpness[-1] / (2.0 / lr) - 1.0) < 0.15, (lr, h.sharpness[-1])
        second_half = h.sharpness[len(h.sharpness) // 2:]
        assert np.abs(second_half / (2.0 / lr) - 1.0).max() < 0.2  # hovering, not passing through
        assert (np.diff(h.train_loss) > 0).sum() > 10  # the loss falls non-monotonically
        assert h.train_loss[-1] < h.train_loss[0] / 4


def test_a_ten_times_smaller_learning_rate_stays_far_below(traces):
    lr = PRESET_LRS[-1] / 10
    h = traces[lr].history
    assert h.sharpness.max() < 0.2 * 2.0 / lr
    assert (np.diff(h.train_loss) <= 1e-15).all()  # stable: a monotone descent


def test_the_preset_is_published_and_its_records_are_complete(traces):
    assert PRESETS["edge_of_stability"] is PRESET and PRESET["curvature"] == {"every": 100}
    body = edge_of_stability_preset(0.08)
    assert body["optimizer"] == {"name": "sgd", "lr": 0.08} and PRESET["optimizer"]["lr"] == 0.07  # a copy
    with pytest.raises(EngineInputError):
        edge_of_stability_preset(-1.0)
    r = traces[PRESET["optimizer"]["lr"]]
    h = r.history
    every = PRESET["curvature"]["every"]
    np.testing.assert_array_equal(h.sharpness_epoch, np.arange(every, PRESET["epochs"] + 1, every))
    assert h.sharpness_matvecs.min() > 0 and len(h.preconditioned_sharpness) == 0
    np.testing.assert_allclose(h.sharpness_lr, PRESET["optimizer"]["lr"])
    cv = r.settings["curvature"]
    assert cv["threshold_rule"] == "2/lr" and cv["compare"] == "sharpness" and cv["records"] == len(h.sharpness)
    assert cv["stopped"] is None
    for a in (h.sharpness, h.threshold, h.train_loss):
        assert np.isfinite(a).all()


def test_a_record_is_the_top_eigenvalue_of_the_hessian_at_that_epochs_weights(traces):
    short = train(**_body(optimizer={"name": "sgd", "lr": PRESET_LRS[0]}, epochs=300))
    H, _, _ = _dense(PRESET, short.params)
    assert short.history.sharpness[-1] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-6)
    # records are a function of the run: the long run's first three are the short run's
    np.testing.assert_array_equal(traces[PRESET_LRS[0]].history.sharpness[:3], short.history.sharpness)


def test_the_l2_penalty_is_part_of_the_hessian():
    body = _small(optimizer={"name": "sgd", "lr": 0.05}, epochs=5, curvature={"every": 5}, regularization={"l2": 0.5})
    r = train(**body)
    s = prepare(**{k: v for k, v in body.items() if k != "curvature"})
    c = np.zeros(s.net.n_params)
    for row in s.net.layout:  # 2·l2 on the weight matrices' entries (not biases)
        c[row[W_OFF]:row[W_OFF] + row[IN] * row[OUT]] = 1.0
    H, _, _ = _dense(body, r.params, shift=2 * 0.5 * c)
    assert r.history.sharpness[-1] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-7)
    H0, _, _ = _dense(body, r.params)
    assert abs(np.linalg.eigvalsh(H0)[-1] - r.history.sharpness[-1]) > 1e-3  # the penalty moved it


@pytest.mark.parametrize("spec", [{"name": "adam", "lr": 0.01}, {"name": "adam", "lr": 0.01, "amsgrad": True},
                                  {"name": "adamw", "lr": 0.01, "betas": [0.8, 0.99]}],
                         ids=["adam", "amsgrad", "adamw"])
def test_adam_preconditioned_sharpness_against_a_numpy_replay(spec):
    """Full-batch Adam replayed in numpy from exact gradients: the weights, v̂ and λ_max(P^-1/2 H P^-1/2)."""
    epochs = 3
    body = _small(optimizer=spec, epochs=epochs, curvature={"every": 1})
    r = train(**body)
    h = r.history
    assert len(h.preconditioned_sharpness) == len(h.sharpness) == epochs
    opt = resolve_optimizer(spec)
    b1, b2 = opt.params["betas"]
    eps, wd = opt.params["eps"], opt.params["weight_decay"]
    np.testing.assert_allclose(h.threshold, (2 + 2 * b1) / ((1 - b1) * opt.lr))
    s = prepare(**{k: v for k, v in body.items() if k != "curvature"})
    p = s.params0.copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t in range(1, epochs + 1):
        _, g, _ = _dense(body, p)
        if spec["name"] == "adamw":
            p = p * (1 - opt.lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if spec.get("amsgrad") else v
        p = p - opt.lr * (m / (1 - b1 ** t)) / (np.sqrt(vv / (1 - b2 ** t)) + eps)
        H, _, _ = _dense(body, p)
        d = 1.0 / np.sqrt(np.sqrt(vv / (1 - b2 ** t)) + eps)
        want = np.linalg.eigvalsh(d[:, None] * H * d[None, :])[-1]
        assert h.preconditioned_sharpness[t - 1] == pytest.approx(want, rel=1e-6), t
        assert h.sharpness[t - 1] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-6), t
    np.testing.assert_allclose(r.params, p, rtol=1e-10, atol=1e-12)


def test_the_stream_sends_the_same_records_as_train():
    body = _small(optimizer={"name": "rmsprop", "lr": 0.003, "centered": True}, epochs=25, curvature={"every": 10})
    want = train(**body)
    st = stream(**body)
    recs = list(st)
    got = [(rec["epoch"], rec["sharpness"], rec["preconditioned_sharpness"], rec["threshold"])
           for rec in recs if "sharpness" in rec]
    h = want.history
    assert [g[0] for g in got] == [10, 20, 25] == list(h.sharpness_epoch)
    np.testing.assert_array_equal([g[1] for g in got], h.sharpness)
    np.testing.assert_array_equal([g[2] for g in got], h.preconditioned_sharpness)
    np.testing.assert_allclose([g[3] for g in got], 2.0 / 0.003)  # RMSprop: 2/η on λ_max(P⁻¹H)
    np.testing.assert_array_equal(st.result.history.sharpness, h.sharpness)
    assert all("sharpness" not in rec for rec in recs if rec["epoch"] not in (10, 20, 25))


def test_without_the_option_nothing_changes():
    body = _small(optimizer={"name": "sgd", "lr": 0.05}, epochs=7)
    plain = train(**{k: v for k, v in body.items() if k != "curvature"})
    tracked = train(**dict(body, curvature={"every": 3}))
    np.testing.assert_array_equal(plain.params, tracked.params)
    np.testing.assert_array_equal(plain.history.train_loss, tracked.history.train_loss)
    assert len(plain.history.sharpness) == 0 and "curvature" not in plain.settings
    assert list(tracked.history.sharpness_epoch) == [3, 6, 7]


def test_no_record_of_weights_that_are_not_returned():
    # divergence: records stop before it; the weights are the last completed epoch's
    body = _small(optimizer={"name": "sgd", "lr": 5.0}, epochs=50, curvature={"every": 1})
    body["model"] = dict(body["model"], activation="identity")  # a linear net: far past 2/η it overflows
    r = train(**body)
    assert r.stop_reason == "diverged" and r.epochs_run == r.stopped_epoch - 1
    assert list(r.history.sharpness_epoch) == list(range(1, r.stopped_epoch))
    assert (r.history.sharpness > r.history.threshold).all()  # every record past 2/η
    # early stopping that restores another epoch's weights takes no record at the stop
    body = _small(optimizer={"name": "sgd", "lr": 0.05}, epochs=400, curvature={"every": 1},
                  early_stopping={"patience": 2, "min_delta": 10.0})  # epoch 1 is the best, it stops at 3
    r = train(**body)
    assert r.stop_reason == "early_stopping" and r.restored_best and (r.best_epoch, r.stopped_epoch) == (1, 3)
    assert list(r.history.sharpness_epoch) == [1, 2]
    assert list(train(**dict(body, early_stopping={"patience": 2, "min_delta": 10.0, "restore_best_weights": False})
                      ).history.sharpness_epoch) == [1, 2, 3]


@pytest.mark.parametrize("spec", [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    {"name": "sgd", "lr": 0.1, "momentum": 0.5, "dampening": 0.5},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.5},
], ids=["gd", "heavy-ball", "dampening", "nesterov", "weight-decay"])
def test_thresholds_separate_convergence_from_divergence_on_a_quadratic(spec):
    opt = resolve_optimizer(spec)
    _, compare_to, thr, _ = _threshold(opt.name, opt.hp)
    assert compare_to == "sharpness"
    limit = thr(opt.lr)

    def final(lam):  # 1-D quadratic ½λp², the engine's own torch.optim step
        p, state = np.ones(1), new_state(opt, 1)
        for t in range(1, 3001):
            optimizer_step(opt.code, opt.hp, p, lam * p, state[0], state[1], t, opt.lr)
        return abs(p[0])

    assert final(0.98 * limit) < 1.0 and final(1.02 * limit) > 1.0


def test_optimizers_without_a_known_threshold_report_none():
    for spec in ({"name": "lion", "lr": 1e-3}, {"name": "adagrad"}, {"name": "sgd", "lr": 0.1, "maximize": True}):
        r = train(**_small(optimizer=spec, epochs=2, curvature={"every": 1}))
        assert len(r.history.threshold) == 0 and len(r.history.sharpness) == 2
        assert r.settings["curvature"]["compare"] == "none"


def test_refusals_name_the_field():
    for over, field in [({"curvature": {"every": 0}}, "curvature.every"), ({"curvature": {"nope": 1}}, "curvature.nope"),
                        ({"curvature": {"every": 5}}, "curvature.every"), ({"curvature": 3}, "curvature"),
                        ({"curvature": {"tol": -1.0}}, "curvature.tol")]:
        with pytest.raises(EngineInputError) as err:
            train(**_body(**over))
        assert err.value.field == field, over
    with pytest.raises(EngineInputError) as err:
        compare(variants=[{"name": "a"}], **_small(epochs=2, curvature={"every": 1}))
    assert err.value.field == "curvature"


def test_under_a_deadline_the_records_are_the_same_and_a_passed_one_stops_the_run(monkeypatch):
    import engine.deadlines as dl
    from engine.errors import DeadlineExceeded
    from engine.network_hessian import run_network_hessian
    from engine.saddles import network_critical_points

    body = _small(optimizer={"name": "adam", "lr": 0.01}, epochs=40, curvature={"every": 7})
    want = train(**body)
    monkeypatch.setattr(dl, "CHUNK_S", 1e-9)  # chunks of one epoch: the most splitting there is
    with dl.deadline(600):
        got = train(**body)
    for k in ("sharpness_epoch", "sharpness", "preconditioned_sharpness", "train_loss"):
        np.testing.assert_array_equal(getattr(got.history, k), getattr(want.history, k))
    for run in (lambda: train(**body),
                lambda: run_network_hessian([1, 8, 1], "tanh", "mse", {"name": "sine", "n_train": 12}, top_k=1),
                lambda: network_critical_points([1, 2, 1], starts=2, train_steps=2, iterations=2)):
        with dl.deadline(at=0.0), pytest.raises(DeadlineExceeded):
            run()
