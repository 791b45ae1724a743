"""engine.training and engine.regularization: overfitting, regularizers, early stopping, schedules,
streaming, one step by hand, a whole run against torch, divergence, classification, bad input."""

import math

import numpy as np
import pytest

from engine import mlp
from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.optimizers import new_state, optimizer_step, resolve_optimizer
from engine.regularization import REGULARIZERS, compare, describe
from engine.schedules import lr_schedule
from engine.training import SPARSITY_THRESHOLD, epoch_order, prepare, stream, train
from engine.training_setup import seeds

# A small noisy regression set and a big net: 30 points, 64-64 tanh, full-batch Adam for 600 epochs.
OVERFIT = dict(
    dataset={"name": "sine", "n_train": 30, "n_val": 200, "noise": 0.3, "seed": 0},
    model={"layers": [1, 64, 64, 1], "activation": "tanh"},
    optimizer={"name": "adam", "lr": 0.01},
    epochs=600,
    batch_size=30,
    seed=0,
)
VARIANTS = [
    {"name": "none"},
    {"name": "l1", "regularization": {"l1": 1e-3}},
    {"name": "l2", "regularization": {"l2": 1e-3}},
    {"name": "dropout", "regularization": {"dropout": 0.2}},
]


@pytest.fixture(scope="module")
def comparison():
    return {v.name: v for v in compare(variants=VARIANTS, **OVERFIT).runs}


def test_unregularized_big_net_overfits(comparison):
    h = comparison["none"].result.history
    best = int(np.argmin(h.val_loss))
    assert 0 < best < len(h) - 50
    assert h.val_loss[-1] >= 1.2 * h.val_loss[best]  # validation rises by >= 20% after its minimum
    assert h.train_loss[-1] < 0.6 * h.train_loss[best]  # while the training loss keeps falling
    tail = h.train_loss[best:]
    assert np.all(np.diff(tail[::25]) < 0)  # ... steadily (sampled every 25 epochs)
    assert comparison["none"].gap > 0.05


def test_l2_and_dropout_end_with_lower_validation_loss(comparison):
    none = comparison["none"].result.final_val_loss
    for name in ("l2", "dropout", "l1"):
        assert comparison[name].result.final_val_loss < none, name
        assert comparison[name].gap < comparison["none"].gap, name


def test_l1_makes_weights_sparse(comparison):
    l1, none = comparison["l1"], comparison["none"]
    assert l1.result.history.sparsity[-1] >= 0.30
    assert none.result.history.sparsity[-1] < 0.05
    # the recorded fraction is the fraction of weight-matrix entries below the stated threshold
    net = mlp.build_mlp([1, 64, 64, 1], "tanh")
    W = np.concatenate([lp.W.ravel() for lp in mlp.unpack(net, l1.result.params)])
    assert np.mean(np.abs(W) < SPARSITY_THRESHOLD) == l1.result.history.sparsity[-1]
    assert SPARSITY_THRESHOLD == 1e-3


def test_compare_variant_equals_a_single_run(comparison):
    single = train(**OVERFIT, regularization={"l2": 1e-3})
    got = comparison["l2"].result
    np.testing.assert_array_equal(single.history.val_loss, got.history.val_loss)
    np.testing.assert_array_equal(single.params, got.params)
    h = got.history
    assert comparison["l2"].gap == pytest.approx(got.final_val_loss - got.final_train_loss)
    assert comparison["l2"].gap_last_epoch == pytest.approx(h.val_loss[-1] - h.train_loss[-1])


def test_early_stopping_keras_semantics():
    patience = 20
    r = train(**{**OVERFIT, "epochs": 400}, early_stopping={"patience": patience})
    h = r.history
    assert r.stop_reason == "early_stopping"
    assert r.stopped_epoch - r.best_epoch == patience and r.epochs_run == r.stopped_epoch
    assert r.best_epoch == int(np.argmin(h.val_loss)) + 1
    assert r.restored_best
    assert r.final_val_loss == h.val_loss[r.best_epoch - 1]  # the best weights were restored
    assert r.final_train_loss == h.train_loss[r.best_epoch - 1]
    # Keras' rule replayed on the recorded curve, with a min_delta this time
    md = 1e-3
    r2 = train(**{**OVERFIT, "epochs": 400}, early_stopping={"patience": 5, "min_delta": md,
                                                             "restore_best_weights": False})
    best, wait, best_epoch, stop = math.inf, 0, 0, None
    for e, v in enumerate(r2.history.val_loss):
        wait += 1
        if v + md < best:
            best, wait, best_epoch = v, 0, e + 1
        elif wait >= 5 and e > 0:
            stop = e + 1
            break
    assert (r2.best_epoch, r2.stopped_epoch) == (best_epoch, stop)
    assert not r2.restored_best and r2.final_val_loss == r2.history.val_loss[-1]


def test_lr_trace_is_the_schedule_per_epoch():
    spec = {"name": "warmup_cosine", "warmup_steps": 5}
    r = train(**{**OVERFIT, "epochs": 40}, schedule=spec)
    np.testing.assert_array_equal(r.history.lr, lr_schedule(spec, 0.01, 40))
    assert r.history.lr[0] == 0.0 and r.history.lr[5] == 0.01


CLASSIFY = dict(dataset={"name": "spirals", "n_train": 60, "n_val": 30}, model={"layers": [2, 12, 2]},
                optimizer={"name": "rmsprop", "lr": 0.01}, epochs=12, batch_size=16, prediction={"grid": 4})


@pytest.mark.parametrize("req", [
    {**OVERFIT, "epochs": 30, "early_stopping": {"patience": 3}, "regularization": {"dropout": 0.1}},
    CLASSIFY,
    {**CLASSIFY, "model": {"layers": [2, 8, 8, 8, 2], "batch_norm": True, "residual": True},
     "regularization": {"dropout": 0.2, "l2": 1e-3}, "early_stopping": {"patience": 2}},
], ids=["regression", "classification", "bn-residual-dropout"])
def test_stream_gives_the_one_shot_records(req):
    one = train(**req)
    s = stream(**req)
    recs = list(s)
    assert len(recs) == len(one.history) == s.epochs_computed
    assert recs == [one.history.record(e) for e in range(len(one.history))]
    np.testing.assert_array_equal(s.result.params, one.params)
    assert s.result.stop_reason == one.stop_reason and s.result.best_epoch == one.best_epoch


def test_stream_stops_when_abandoned():
    s = stream(**{**OVERFIT, "epochs": 100})
    for _ in range(3):
        next(s)
    s.close()
    assert list(s) == [] and s.epochs_computed == 3 and s.result is None


@pytest.mark.parametrize("opt", [{"name": "sgd", "lr": 0.1, "momentum": 0.9}, {"name": "adamw", "lr": 0.01}])
def test_one_step_by_hand(opt):
    """Epoch 1 of a one-batch run = mlp's gradient (+ penalty gradient) and one optimizer_step."""
    req = dict(dataset={"name": "sine", "n_train": 8, "n_val": 5, "seed": 2},
               model={"layers": [1, 6, 6, 1], "activation": "tanh", "init": {"name": "xavier_normal"}},
               optimizer=opt, epochs=1, batch_size=8, seed=7, regularization={"l1": 0.01, "l2": 0.02, "dropout": 0.25})
    r = train(**req)
    s = prepare(**req)
    net, p0 = s.net, s.params0.copy()
    order = epoch_order(7, 0, 8)
    _, _, dropout_seed = seeds(7)
    lg = mlp.loss_and_grad(net, p0, s.data.X_train[order], s.data.Y_train[order], "mse", mode="train_update",
                           seed=dropout_seed, step=1)
    g = lg.grad.copy()
    pen = 0.0
    for lp, gp in zip(mlp.unpack(net, p0), mlp.unpack(net, g)):
        gp.W[...] += 0.01 * np.sign(lp.W) + 2 * 0.02 * lp.W
        pen += 0.01 * np.abs(lp.W).sum() + 0.02 * (lp.W ** 2).sum()
    o = resolve_optimizer(opt)
    state, scal = new_state(o, net.n_params)
    p1 = p0.copy()
    optimizer_step(o.code, o.hp, p1, g, state, scal, 1, o.lr)
    np.testing.assert_allclose(r.params, p1, rtol=1e-13, atol=1e-15)
    assert r.history.batch_loss[0] == pytest.approx(lg.loss + pen, rel=1e-13)
    assert r.history.grad_norm[0] == pytest.approx(np.linalg.norm(g), rel=1e-13)


def _torch_run(s, lrs, l1, l2, opt_name, clip=None):
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    net = s.net
    mods = []
    for l, lp in enumerate(mlp.unpack(net, s.params0)):
        lin = torch.nn.Linear(*lp.W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(lp.W.T.copy()))
            lin.bias.copy_(torch.from_numpy(lp.b.copy()))
        mods.append(lin)
        if l < net.n_layers - 1:
            if lp.gamma is not None:  # Linear -> BatchNorm1d -> act, engine.mlp's placement
                mods.append(torch.nn.BatchNorm1d(lp.W.shape[1], eps=1e-5, momentum=0.1))
            mods.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*mods)
    linears = [m for m in mods if isinstance(m, torch.nn.Linear)]
    if opt_name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lrs[0], momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lrs[0])
    if s.loss_name == "mse":
        crit = torch.nn.MSELoss()
    else:
        crit = torch.nn.CrossEntropyLoss()
    X, Xv = torch.from_numpy(s.data.X_train), torch.from_numpy(s.data.X_val)
    Y, Yv = torch.from_numpy(s.Y), torch.from_numpy(s.Yv)
    n, bs = X.shape[0], s.batch_size
    rows = []
    for e in range(len(lrs)):
        model.train()
        for group in opt.param_groups:
            group["lr"] = float(lrs[e])
        order = torch.from_numpy(epoch_order(s.seed, e, n))
        for b in range(0, n, bs):
            idx = order[b:b + bs]
            loss = crit(model(X[idx]), Y[idx])
            loss = loss + l1 * sum(m.weight.abs().sum() for m in linears) + l2 * sum((m.weight ** 2).sum() for m in linears)
            opt.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
        model.eval()
        with torch.no_grad():
            rows.append((crit(model(X), Y).item(), crit(model(Xv), Yv).item()))
    return np.array(rows)


@pytest.mark.parametrize("bn", [False, True], ids=["plain", "batch_norm"])
def test_a_whole_run_matches_torch_regression(bn):
    req = dict(dataset={"name": "sine", "n_train": 20, "n_val": 15, "seed": 1},
               model={"layers": [1, 8, 8, 1], "activation": "tanh", "batch_norm": bn}, optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9},
               epochs=6, batch_size=8, seed=3, regularization={"l1": 1e-3, "l2": 1e-2},
               schedule={"name": "step", "step_size": 2, "gamma": 0.5})
    r = train(**req)
    s = prepare(**req)
    ref = _torch_run(s, r.history.lr, 1e-3, 1e-2, "sgd")
    np.testing.assert_allclose(r.history.train_loss, ref[:, 0], rtol=1e-10)
    np.testing.assert_allclose(r.history.val_loss, ref[:, 1], rtol=1e-10)


def test_a_whole_run_matches_torch_classification():
    req = dict(dataset={"name": "blobs", "n_classes": 3, "n_train": 30, "n_val": 12, "seed": 4},
               model={"layers": [2, 8, 3], "activation": "tanh"}, optimizer={"name": "adam", "lr": 0.05},
               epochs=5, batch_size=7, seed=5, clip={"max_norm": 0.5})
    r = train(**req)
    s = prepare(**req)
    assert s.loss_name == "cross_entropy_with_logits"
    ref = _torch_run(s, r.history.lr, 0.0, 0.0, "adam", clip=0.5)
    np.testing.assert_allclose(r.history.train_loss, ref[:, 0], rtol=1e-10)
    np.testing.assert_allclose(r.history.val_loss, ref[:, 1], rtol=1e-10)


def test_divergence_is_reported_with_finite_numbers():
    r = train(dataset={"name": "sine", "n_train": 30, "n_val": 50, "seed": 0},
              model={"layers": [1, 16, 16, 1], "activation": "tanh"},
              optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9}, epochs=300, batch_size=10, seed=0)
    assert r.stop_reason == "diverged"
    assert r.stopped_epoch == r.epochs_run + 1 and 5 <= r.epochs_run < 300
    h = r.history
    for c in ("train_loss", "val_loss", "lr", "grad_norm", "weight_norm", "sparsity", "batch_loss", "penalty"):
        assert np.all(np.isfinite(getattr(h, c))), c
    assert h.train_loss[-1] > 1e6 * h.train_loss[0]
    assert r.prediction.finite and np.all(np.isfinite(r.prediction.y))
    assert np.all(np.isfinite(r.params))


def test_classification_learns_and_draws_a_decision_surface():
    r = train(dataset={"name": "moons", "n_train": 200, "n_val": 200, "seed": 0},
              model={"layers": [2, 16, 16, 1], "activation": "tanh"}, optimizer={"name": "adam", "lr": 0.02},
              epochs=60, batch_size=32, prediction={"grid": 20})
    h = r.history
    assert h.val_accuracy[-1] > 0.95 and h.train_accuracy[0] < h.train_accuracy[-1]
    p = r.prediction
    assert p.kind == "grid" and p.label.shape == (20, 20) and p.confidence.shape == (20, 20)
    assert set(np.unique(p.label)) == {0, 1} and np.all((p.confidence >= 0.5) & (p.confidence <= 1))
    # the surface is the network's own prediction: compare a few cells with engine.mlp.predict
    s = prepare(dataset={"name": "moons", "n_train": 200, "n_val": 200, "seed": 0},
                model={"layers": [2, 16, 16, 1], "activation": "tanh"}, optimizer={"name": "adam"})
    z = mlp.predict(s.net, r.params, [[p.x[3], p.y[7]], [p.x[15], p.y[2]]], mode="eval_running")[:, 0]
    assert p.label[7, 3] == int(z[0] > 0) and p.label[2, 15] == int(z[1] > 0)
    assert p.confidence[7, 3] == pytest.approx(max(1 / (1 + math.exp(-z[0])), 1 / (1 + math.exp(z[0]))))


def test_regression_prediction_is_the_fitted_curve():
    r = train(**{**OVERFIT, "epochs": 5}, prediction={"points": 11})
    s = prepare(**{**OVERFIT, "epochs": 5})
    assert r.prediction.kind == "line" and r.prediction.x.shape == (11,)
    np.testing.assert_allclose(r.prediction.x, np.linspace(-np.pi, np.pi, 11))
    want = mlp.predict(s.net, r.params, r.prediction.x.reshape(-1, 1), mode="eval_running")[:, 0]
    np.testing.assert_allclose(r.prediction.y, want, rtol=1e-12)
    assert len(r.history.val_accuracy) == 0  # regression has no accuracy


@pytest.mark.parametrize(
    "change, field",
    [
        ({"loss": "bce_with_logits"}, "loss"),
        ({"model": {"layers": [2, 4, 1]}}, "model.layers"),
        ({"model": {"layers": [1, 4, 2]}}, "model.layers"),
        ({"model": {"layers": [1, 4, 1], "colour": 1}}, "model.colour"),
        ({"model": {"layers": [1, 4, 1], "activation": "nope"}}, "model.activation"),
        ({"model": {"layers": [1, 4, 1], "init": {"name": "nope"}}}, "model.init.name"),
        ({"epochs": LIMITS["max_epochs"] + 1}, "epochs"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"regularization": {"l3": 1}}, "regularization.l3"),
        ({"regularization": {"dropout": 0.99}}, "regularization.dropout"),
        ({"early_stopping": {"patience": -1}}, "early_stopping.patience"),
        ({"clip": {"max_norm": 1, "max_value": 1}}, "clip"),
        ({"optimizer": {"name": "adamz"}}, "optimizer.name"),
        ({"schedule": {"name": "cosine", "T_max": 0}}, "schedule.T_max"),
        ({"prediction": {"grid": LIMITS["max_prediction_axis"] + 1}}, "prediction.grid"),
        ({"dataset": {"name": "sine", "n_train": 31}, "model": {"layers": [1, 4, 1], "batch_norm": True},
          "batch_size": 10}, "batch_size"),
    ],
)
def test_bad_input_names_the_field(change, field):
    req = {**OVERFIT, "epochs": 2, **change}
    with pytest.raises(EngineInputError) as e:
        train(**req)
    assert e.value.field == field


def test_work_budget_names_the_limit():
    with pytest.raises(EngineInputError, match="max_training_work"):
        train(**{**OVERFIT, "dataset": {"name": "sine", "n_train": 5000, "n_val": 5000}, "epochs": 5000})
    with pytest.raises(EngineInputError, match="max_compare_variants"):
        compare(variants=[{"name": str(i)} for i in range(LIMITS["max_compare_variants"] + 1)], **OVERFIT)


def test_compare_bad_variants():
    for variants, field in [([], "variants"), ([{"name": "a"}, {"name": "a"}], "variants.1.name"),
                            ([{"name": "a", "regularization": {"l1": -1}}], "variants.0.regularization.l1"),
                            ([{"name": "a", "x": 1}], "variants.0.x")]:
        with pytest.raises(EngineInputError) as e:
            compare(variants=variants, **{**OVERFIT, "epochs": 2})
        assert e.value.field == field


def test_regularizer_registry():
    names = [d["name"] for d in describe()]
    assert names == list(REGULARIZERS) and {"none", "l1", "l2", "dropout", "weight_decay"} <= set(names)
