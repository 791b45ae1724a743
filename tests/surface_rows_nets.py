"""Public-surface rows (tests/public_surface.py) for networks, data, training, language models, curvature
and sweeps: a tiny valid call of each public function, and the refusals it must make, each naming the
Python argument (``X``/``Y`` for the MLP functions, ``inputs``/``targets`` for ``run_backprop``...)."""

from __future__ import annotations

import numpy as np

from public_surface import Row


def _net(e, layers=(2, 3, 1), **kw):
    return e.build_mlp(list(layers), "tanh", **kw)


def _batch(n=3, d=2, k=1):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), rng.normal(size=(n, k))


def _engine():
    import engine

    return engine


def _mlp_call(extra=None):
    """(net, params, X, Y) of a small valid MLP call, fresh each time."""
    e = _engine()
    net = _net(e)
    X, Y = _batch()
    return net, e.init_params(net, None, 0), X, Y


def _valid_loss_and_grad():
    net, p, X, Y = _mlp_call()
    return (net, p, X, Y), {"loss": "mse", "mode": "train"}


def _valid_predict():
    net, p, X, _ = _mlp_call()
    return (net, p, X), {"mode": "eval_batch"}


def _lg(e, **over):
    net, p, X, Y = _mlp_call()
    kw = {"net": net, "params": p, "X": X, "Y": Y, **over}
    return e.loss_and_grad(**kw)


def _pr(e, **over):
    net, p, X, _ = _mlp_call()
    kw = {"net": net, "params": p, "X": X, **over}
    return e.predict(**kw)


TRAIN = {"dataset": {"name": "sine", "n_train": 6, "n_val": 3}, "model": {"layers": [1, 2, 1]},
         "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 1, "batch_size": 3, "prediction": {"points": 2}}


def _train_kw(**over):
    return {**{k: (dict(v) if isinstance(v, dict) else v) for k, v in TRAIN.items()}, **over}


def _diag_op():
    import engine

    return engine.hessian_operator(3, lambda v, out: np.multiply(np.array([1.0, 2.0, 3.0]), v, out=out))


_TINY_CORPUS = {"name": "reverse", "length": 2, "n_train": 8, "n_val": 4}


def _corpus():
    return _engine().make_corpus(dict(_TINY_CORPUS))


def _bigram():
    return _engine().build_lm_model({"name": "bigram"}, 3)


def _abc():
    return _engine().build_tokenizer("abc")


def _blob():
    return _engine().encode_parameters(_bigram(), np.arange(9.0))


def _lm_kw(**over):
    return {"corpus": dict(_TINY_CORPUS), "model": {"name": "bigram"}, "steps": 2, "batch_size": 2,
            "eval_every": 1, "eval_tokens": 8, "sampling": {"length": 2}, **over}


def _lm_refusals(name):
    def call(**over):
        return lambda e: getattr(e, name)(**_lm_kw(**over))

    return (
        ("unknown corpus", call(corpus={"name": "nope"}), "corpus"),
        ("corpus a list", call(corpus=["names"]), "corpus"),
        ("unknown model", call(model={"name": "nope"}), "model"),
        ("model parameter out of range", call(model={"name": "gpt", "n_layer": 99}), "model"),
        ("unknown optimizer key", call(optimizer={"nope": 1}), "optimizer"),
        ("optimizer a list", call(optimizer=[1]), "optimizer"),
        ("unknown schedule", call(schedule={"name": "nope"}), "schedule"),
        ("clip a list", call(clip=[1]), "clip"),
        ("unknown sampling key", call(sampling={"nope": 1}), "sampling"),
        ("sampling prompt a number", call(sampling={"prompt": 3}), "sampling"),
        ("return_parameters not bool", call(return_parameters="yes"), "return_parameters"),
        ("parameters not base64", call(parameters="!!"), "parameters"),
        ("parameters of another size", call(parameters="AAAAAAAAAAA="), "parameters"),
        ("steps 0", call(steps=0), "steps"),
        ("steps a string", call(steps="many"), "steps"),
        ("batch_size huge", call(batch_size=10**6), "batch_size"),
        ("eval_every float", call(eval_every=1.5), "eval_every"),
        ("eval_tokens 0", call(eval_tokens=0), "eval_tokens"),
        ("negative seed", call(seed=-1), "seed"),
        ("seed a list", call(seed=[1]), "seed"),
    )


_DESCENT = {"surface": "quadratic", "start": [1.0, 1.0], "steps": 2, "optimizer": {"name": "sgd", "lr": 0.1}}


def _sweep_refusals(name):
    def call(*args, **kw):
        extra = {"client": "sync"} if name == "sweep" else {}
        return lambda e: getattr(e, name)(*args, **{**extra, **kw})

    return (
        ("unknown kind", call("nope", dict(_DESCENT)), "kind"),
        ("kind a list", call(["descent/trajectory"], dict(_DESCENT)), "kind"),
        ("base a list", call("descent/trajectory", [1, 2]), "base"),
        ("base unknown argument", call("descent/trajectory", {**_DESCENT, "nope": 1}), "base"),
        ("base value refused", call("descent/trajectory", {**_DESCENT, "surface": "nope"}), "base"),
        ("axes a list", call("descent/trajectory", dict(_DESCENT), ["steps"]), "axes"),
        ("axis unknown path", call("descent/trajectory", dict(_DESCENT), {"nope": [1, 2]}), "axes"),
        ("axis value refused", call("descent/trajectory", dict(_DESCENT), {"steps": [1, -1]}), "axes"),
        ("seeds strings", call("descent/trajectory", dict(_DESCENT), seeds=["a"]), "seeds"),
        ("seeds negative", call("descent/trajectory", dict(_DESCENT), seeds=[-1]), "seeds"),
        ("unknown metric", call("descent/trajectory", dict(_DESCENT), metrics=["nope"]), "metrics"),
        ("metrics a string", call("descent/trajectory", dict(_DESCENT), metrics=3), "metrics"),
        ("unknown seed field", call("descent/trajectory", dict(_DESCENT), seeds=[0, 1], seed_fields=["nope"]),
         "seed_fields"),
    )


_SWEEP_CACHE: list = []


def _sweep_result():
    """A 2 x 2 descent sweep with 2 seeds, run in this process once (results are read-only)."""
    if not _SWEEP_CACHE:
        _SWEEP_CACHE.append(_engine().sweep(
            "descent/trajectory", {"surface": "quadratic", "start": [1.0, 1.0], "noise_scale": 0.1,
                                   "optimizer": {"name": "sgd", "lr": 0.1}},
            {"steps": [1, 2], "optimizer.lr": [0.1, 0.2]}, seeds=[0, 1], metrics=["final_loss", "loss_curve"],
            client="sync"))
    return _SWEEP_CACHE[0]


def _grid_nd():
    N, D = np.meshgrid([1e3, 1e4, 1e5], [1e4, 1e5])
    N, D = N.ravel(), D.ravel()
    return N, D, 1.7 + 400 / N**0.34 + 410 / D**0.28


def _drain(stream):
    for _ in stream:
        pass
    return stream.result



def _hessian_row(name: str) -> Row:
    def call(*args, **kwargs):
        return lambda e: getattr(e, name)(*args, **kwargs)

    return Row(
        valid=lambda: (([2, 2, 1],), {"dataset": {"name": "moons", "n_train": 6}, "top_k": 1, "trace_samples": 2,
                                      "density_steps": 2, "density_probes": 1, "density_points": 16}),
        refusals=(
            ("layers strings", call(["a", "b"]), "layers"),
            ("first width wrong", call([3, 1]), "layers"),
            ("unknown dataset", call([2, 1], dataset={"name": "nope"}), "dataset"),
            ("unknown loss", call([2, 1], loss="nope"), "loss"),
            ("top_k > parameters", call([2, 1], top_k=4), "top_k"),
            ("tol NaN", call([2, 1], tol=float("nan")), "tol"),
            ("sigma 2", call([2, 1], sigma=2.0), "sigma"),
            ("density not bool", call([2, 1], density="yes"), "density"),
            ("negative seed", call([2, 1], seed=-1), "seed"),
        ),
    )

ROWS: dict[str, Row] = {
    # --- engine.mlp ---------------------------------------------------------------------------------
    "build_mlp": Row(
        valid=lambda: (([2, 3, 1],), {"activation": "tanh"}),
        refusals=(
            ("list of strings", lambda e: e.build_mlp(["a", "b"]), "layers"),
            ("float widths", lambda e: e.build_mlp([2.5, 1]), "layers"),
            ("one width", lambda e: e.build_mlp([2]), "layers"),
            ("2-D array", lambda e: e.build_mlp(np.ones((2, 2), dtype=int)), "layers"),
            ("unknown activation", lambda e: e.build_mlp([2, 1], "nope"), "activation"),
            ("unknown output activation", lambda e: e.build_mlp([2, 1], output_activation="nope"),
             "output_activation"),
            ("dropout > 1", lambda e: e.build_mlp([2, 3, 1], dropout=1.5), "dropout"),
            ("residual not bool", lambda e: e.build_mlp([2, 1], residual="yes"), "residual"),
            ("too wide", lambda e: e.build_mlp([2, 10**9, 1]), "layers"),
        ),
    ),
    "init_params": Row(
        valid=lambda: ((_net(_engine()),), {"init": {"name": "xavier_uniform"}, "seed": 1}),
        refusals=(
            ("not a net", lambda e: e.init_params([2, 3, 1]), "net"),
            ("unknown init", lambda e: e.init_params(_net(e), {"name": "nope"}), "init"),
            ("init a list", lambda e: e.init_params(_net(e), ["a"]), "init"),
            ("negative seed", lambda e: e.init_params(_net(e), None, -1), "seed"),
            ("float seed", lambda e: e.init_params(_net(e), None, 0.5), "seed"),
        ),
    ),
    "loss_and_grad": Row(
        valid=_valid_loss_and_grad,
        refusals=(
            ("X wrong width", lambda e: _lg(e, X=np.ones((3, 5))), "X"),
            ("X 3-D", lambda e: _lg(e, X=np.ones((3, 2, 1))), "X"),
            ("X list of strings", lambda e: _lg(e, X=[["a", "b"]]), "X"),
            ("X object dtype", lambda e: _lg(e, X=np.array([[object(), 1.0]], dtype=object)), "X"),
            ("Y rows != X rows", lambda e: _lg(e, Y=np.ones((2, 1))), "Y"),
            ("Y wrong width", lambda e: _lg(e, Y=np.ones((3, 2))), "Y"),
            ("params short", lambda e: _lg(e, params=np.ones(3)), "params"),
            ("params list of strings", lambda e: _lg(e, params=["a", "b"]), "params"),
            ("params NaN", lambda e: _lg(e, params=np.full(13, np.nan)), "params"),
            ("net not an MLP", lambda e: _lg(e, net={"layers": [2, 1]}), "net"),
            ("unknown loss", lambda e: _lg(e, loss="nope"), "loss"),
            ("unknown loss parameter", lambda e: _lg(e, loss="huber", loss_params={"beta": 1.0}), "loss_params"),
            ("unknown mode", lambda e: _lg(e, mode="nope"), "mode"),
            ("mode a list", lambda e: _lg(e, mode=["train"]), "mode"),
            ("running wrong size", lambda e: _lg(e, running=np.ones(4)), "running"),
            ("negative seed", lambda e: _lg(e, seed=-1), "seed"),
            ("float step", lambda e: _lg(e, step=0.5), "step"),
        ),
    ),
    "predict": Row(
        valid=_valid_predict,
        refusals=(
            ("X wrong width", lambda e: _pr(e, X=np.ones((3, 1))), "X"),
            ("X 1-D", lambda e: _pr(e, X=np.ones(2)), "X"),
            ("X float32 wrong width", lambda e: _pr(e, X=np.ones((2, 3), dtype=np.float32)), "X"),
            ("X strings", lambda e: _pr(e, X=[["a", "b"]]), "X"),
            ("params long", lambda e: _pr(e, params=np.ones(20)), "params"),
            ("params int wrong size", lambda e: _pr(e, params=np.ones(3, dtype=int)), "params"),
            ("unknown mode", lambda e: _pr(e, mode="nope"), "mode"),
            ("net None", lambda e: _pr(e, net=None), "net"),
            ("huge seed", lambda e: _pr(e, seed=2**64), "seed"),
        ),
    ),
    "new_running": Row(
        valid=lambda: ((_net(_engine(), (2, 3, 1), batch_norm=True),), {}),
        refusals=(("not a net", lambda e: e.new_running([2, 3, 1]), "net"),),
    ),
    "unpack": Row(
        valid=lambda: ((_net(_engine()), np.zeros(13)), {}),
        refusals=(
            ("params short", lambda e: e.unpack(_net(e), np.zeros(3)), "params"),
            ("params a list", lambda e: e.unpack(_net(e), [0.0] * 13), "params"),
            ("params int", lambda e: e.unpack(_net(e), np.zeros(13, dtype=int)), "params"),
            ("not a net", lambda e: e.unpack("net", np.zeros(13)), "net"),
        ),
    ),
    "pack": Row(
        valid=lambda: ((_net(_engine(), (2, 1)), [{"W": [[1.0], [2.0]], "b": [0.5]}]), {}),
        refusals=(
            ("W wrong shape", lambda e: e.pack(_net(e, (2, 1)), [{"W": [[1.0, 2.0]], "b": [0.5]}]), "weights"),
            ("too many layers", lambda e: e.pack(_net(e, (2, 1)), [{"W": [[1.0], [2.0]], "b": [0.5]}] * 2),
             "weights"),
            ("unknown key", lambda e: e.pack(_net(e, (2, 1)), [{"W": [[1.0], [2.0]], "b": [0.5], "c": 1}]),
             "weights"),
            ("W strings", lambda e: e.pack(_net(e, (2, 1)), [{"W": [["a"], ["b"]], "b": [0.5]}]), "weights"),
            ("not a net", lambda e: e.pack(None, []), "net"),
        ),
    ),
    # --- engine.datasets / engine.user_data --------------------------------------------------------
    "make_dataset": Row(
        valid=lambda: (("moons",), {"params": {"n_train": 4, "n_val": 2}}),
        refusals=(
            ("unknown name", lambda e: e.make_dataset("nope"), "name"),
            ("name a list", lambda e: e.make_dataset(["moons"]), "name"),
            ("unknown parameter", lambda e: e.make_dataset("moons", {"bogus": 1}), "params"),
            ("n_train float", lambda e: e.make_dataset("moons", {"n_train": 2.5}), "params"),
            ("n_train too large", lambda e: e.make_dataset("moons", {"n_train": 10**9}), "params"),
            ("params a list", lambda e: e.make_dataset("moons", [1, 2]), "params"),
        ),
    ),
    "inline_dataset": Row(
        valid=lambda: ((np.arange(8.0).reshape(4, 2),), {"y": np.arange(4.0), "val_fraction": 0.25, "seed": 1}),
        refusals=(
            ("x strings", lambda e: e.inline_dataset([["a"], ["b"]], y=[1.0, 2.0]), "x"),
            ("x 3-D", lambda e: e.inline_dataset(np.zeros((2, 2, 2)), y=[1.0, 2.0]), "x"),
            ("y length != x rows", lambda e: e.inline_dataset(np.zeros((4, 1)), y=np.zeros(3)), "y"),
            ("labels not integers", lambda e: e.inline_dataset(np.zeros((4, 1)), labels=[0, 1, 0.5, 1]), "labels"),
            ("y and labels", lambda e: e.inline_dataset(np.zeros((4, 1)), y=np.zeros(4), labels=[0, 1, 0, 1]),
             "y"),
            ("val_fraction > 1", lambda e: e.inline_dataset(np.zeros((4, 1)), y=np.zeros(4), val_fraction=2.0),
             "val_fraction"),
            ("validation unknown key", lambda e: e.inline_dataset(np.zeros((4, 1)), y=np.zeros(4),
                                                                  validation={"x": [[0.0]], "z": 1}), "validation"),
            ("negative seed", lambda e: e.inline_dataset(np.zeros((4, 1)), y=np.zeros(4), seed=-1), "seed"),
        ),
    ),
    "csv_dataset": Row(
        valid=lambda: (("a,b,t\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n",), {"target": "t"}),
        refusals=(
            ("not text", lambda e: e.csv_dataset([1, 2]), "csv"),
            ("one column", lambda e: e.csv_dataset("a\n1\n2\n"), "csv"),
            ("not a number", lambda e: e.csv_dataset("a,t\n0,1\nx,0\n"), "csv"),
            ("ragged rows", lambda e: e.csv_dataset("a,t\n0,1\n1,0,3\n"), "csv"),
            ("unknown target", lambda e: e.csv_dataset("a,t\n0,1\n1,0\n", target="nope"), "target"),
            ("unknown task", lambda e: e.csv_dataset("a,t\n0,1\n1,0\n", task="nope"), "task"),
            ("val_fraction 0", lambda e: e.csv_dataset("a,t\n0,1\n1,0\n", val_fraction=0.0), "val_fraction"),
        ),
    ),
    "user_dataset": Row(
        valid=lambda: (({"name": "inline", "x": [[0.0], [1.0], [2.0]], "y": [0.0, 1.0, 2.0]},), {}),
        refusals=(
            ("unknown name", lambda e: e.user_dataset({"name": "nope"}), "spec"),
            ("unknown key", lambda e: e.user_dataset({"name": "inline", "x": [[0.0]], "z": 1}), "spec"),
            ("not an object", lambda e: e.user_dataset([1, 2]), "spec"),
            ("x strings", lambda e: e.user_dataset({"name": "inline", "x": [["a"]], "y": [1.0]}), "spec"),
        ),
    ),
    # --- engine.training / engine.regularization ---------------------------------------------------
    "train": Row(
        valid=lambda: ((), _train_kw()),
        refusals=(
            ("unknown dataset", lambda e: e.train(**_train_kw(dataset={"name": "nope"})), "dataset"),
            ("dataset a list", lambda e: e.train(**_train_kw(dataset=[1, 2])), "dataset"),
            ("layers strings", lambda e: e.train(**_train_kw(model={"layers": ["a", "b"]})), "model"),
            ("first width wrong", lambda e: e.train(**_train_kw(model={"layers": [3, 1]})), "model"),
            ("unknown model key", lambda e: e.train(**_train_kw(model={"layers": [1, 1], "z": 1})), "model"),
            ("unknown optimizer", lambda e: e.train(**_train_kw(optimizer={"name": "nope"})), "optimizer"),
            ("epochs 0", lambda e: e.train(**_train_kw(epochs=0)), "epochs"),
            ("batch_size float", lambda e: e.train(**_train_kw(batch_size=2.5)), "batch_size"),
            ("unknown loss", lambda e: e.train(**_train_kw(loss="nope")), "loss"),
            ("loss_params unknown", lambda e: e.train(**_train_kw(loss="huber", loss_params={"beta": 1})),
             "loss_params"),
            ("regularization unknown", lambda e: e.train(**_train_kw(regularization={"l3": 1})), "regularization"),
            ("negative seed", lambda e: e.train(**_train_kw(seed=-1)), "seed"),
            ("schedule unknown", lambda e: e.train(**_train_kw(schedule={"name": "nope"})), "schedule"),
            ("clip unknown", lambda e: e.train(**_train_kw(clip={"nope": 1})), "clip"),
            ("early_stopping unknown", lambda e: e.train(**_train_kw(early_stopping={"nope": 1})),
             "early_stopping"),
            ("prediction list", lambda e: e.train(**_train_kw(prediction=[1])), "prediction"),
            ("curvature list", lambda e: e.train(**_train_kw(curvature=[1])), "curvature"),
        ),
    ),
    "train_stream": Row(
        valid=lambda: ((), _train_kw()),
        refusals=(
            ("unknown dataset", lambda e: e.train_stream(**_train_kw(dataset={"name": "nope"})), "dataset"),
            ("epochs 0", lambda e: e.train_stream(**_train_kw(epochs=0)), "epochs"),
            ("layers strings", lambda e: e.train_stream(**_train_kw(model={"layers": ["a"]})), "model"),
        ),
    ),
    "epoch_order": Row(
        valid=lambda: ((0, 0, 5), {}),
        refusals=(
            ("negative seed", lambda e: e.epoch_order(-1, 0, 5), "seed"),
            ("float epoch", lambda e: e.epoch_order(0, 0.5, 5), "epoch"),
            ("n 0", lambda e: e.epoch_order(0, 0, 0), "n"),
            ("n huge", lambda e: e.epoch_order(0, 0, 10**12), "n"),
        ),
    ),
    "compare": Row(
        valid=lambda: (([{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.01}}],), _train_kw()),
        refusals=(
            ("variants empty", lambda e: e.compare([], **_train_kw()), "variants"),
            ("variants strings", lambda e: e.compare(["a"], **_train_kw()), "variants"),
            ("variant unknown key", lambda e: e.compare([{"name": "a", "z": 1}], **_train_kw()), "variants"),
            ("variant unknown regularizer", lambda e: e.compare([{"name": "a", "regularization": {"l3": 1}}],
                                                                **_train_kw()), "variants"),
            ("unknown dataset", lambda e: e.compare(None, **_train_kw(dataset={"name": "nope"})), "dataset"),
            ("epochs 0", lambda e: e.compare(None, **_train_kw(epochs=0)), "epochs"),
            ("curvature (single runs only)", lambda e: e.compare(None, **_train_kw(curvature={"every": 1})),
             "curvature"),
        ),
    ),
    # --- engine.backprop ---------------------------------------------------------------------------
    "run_backprop": Row(
        valid=lambda: (([2, 2, 1], [[0.5, -0.2]], [[0.3]]), {"measure_cost": False}),
        refusals=(
            ("inputs wrong width", lambda e: e.run_backprop([2, 1], [[1.0]], [[0.0]]), "inputs"),
            ("inputs strings", lambda e: e.run_backprop([2, 1], [["a", "b"]], [[0.0]]), "inputs"),
            ("targets rows != inputs rows", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0], [1.0]]),
             "targets"),
            ("targets outside bce's range", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[3.0]], loss="bce",
                                                                     output_activation="sigmoid"), "targets"),
            ("unknown loss", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0]], loss="nope"), "loss"),
            ("unknown activation", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0]], activation="nope"),
             "activation"),
            ("weights wrong shape", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0]],
                                                             weights=[{"W": [[1.0]], "b": [0.0]}]), "weights"),
            ("path unknown key", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0]], path={"z": 1}), "path"),
            ("path a list", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0]], path=["a"]), "path"),
            ("negative seed", lambda e: e.run_backprop([2, 1], [[1.0, 2.0]], [[0.0]], seed=-1), "seed"),
        ),
    ),
    # --- curvature: engine.hvp, engine.spectrum, engine.network_hessian, engine.saddles --------------
    "mlp_hessian": Row(
        valid=lambda: ((_net(_engine()), np.linspace(-0.5, 0.5, 13), *_batch()), {"loss": "mse"}),
        refusals=(
            ("params short", lambda e: e.mlp_hessian(_net(e), np.ones(3), *_batch()), "params"),
            ("params strings", lambda e: e.mlp_hessian(_net(e), ["a"] * 13, *_batch()), "params"),
            ("X wrong width", lambda e: e.mlp_hessian(_net(e), np.zeros(13), np.ones((3, 4)), np.ones((3, 1))), "X"),
            ("Y rows != X rows", lambda e: e.mlp_hessian(_net(e), np.zeros(13), np.ones((3, 2)), np.ones((4, 1))),
             "Y"),
            ("unknown loss", lambda e: e.mlp_hessian(_net(e), np.zeros(13), *_batch(), loss="nope"), "loss"),
            ("unknown loss parameter", lambda e: e.mlp_hessian(_net(e), np.zeros(13), *_batch(), loss="huber",
                                                               loss_params={"beta": 1}), "loss_params"),
            ("not a net", lambda e: e.mlp_hessian([2, 1], np.zeros(3), *_batch()), "net"),
        ),
    ),
    "hessian_operator": Row(
        valid=lambda: ((3, lambda v, out: np.multiply(v, 2.0, out=out)), {}),
        refusals=(
            ("n 0", lambda e: e.hessian_operator(0, lambda v, out: None), "n"),
            ("n huge", lambda e: e.hessian_operator(10**12, lambda v, out: None), "n"),
            ("n float", lambda e: e.hessian_operator(2.5, lambda v, out: None), "n"),
            ("fn not callable", lambda e: e.hessian_operator(3, "f"), "fn"),
        ),
    ),
    "scaled_operator": Row(
        valid=lambda: ((_diag_op(), np.ones(3)), {}),
        refusals=(
            ("d wrong length", lambda e: e.scaled_operator(_diag_op(), np.ones(4)), "d"),
            ("d strings", lambda e: e.scaled_operator(_diag_op(), ["a", "b", "c"]), "d"),
            ("d NaN", lambda e: e.scaled_operator(_diag_op(), [1.0, np.nan, 1.0]), "d"),
            ("op not an operator", lambda e: e.scaled_operator([1, 2, 3], np.ones(3)), "op"),
        ),
    ),
    "eigenpairs": Row(
        valid=lambda: ((_diag_op(),), {"k": 1, "which": "LA"}),
        refusals=(
            ("k > n", lambda e: e.eigenpairs(_diag_op(), 4), "k"),
            ("k 0", lambda e: e.eigenpairs(_diag_op(), 0), "k"),
            ("unknown which", lambda e: e.eigenpairs(_diag_op(), 1, "XX"), "which"),
            ("which a list", lambda e: e.eigenpairs(_diag_op(), 1, ["LA"]), "which"),
            ("tol NaN", lambda e: e.eigenpairs(_diag_op(), 1, tol=float("nan")), "tol"),
            ("v0 wrong length", lambda e: e.eigenpairs(_diag_op(), 1, v0=np.ones(5)), "v0"),
            ("v0 zero", lambda e: e.eigenpairs(_diag_op(), 1, v0=np.zeros(3)), "v0"),
            ("negative seed", lambda e: e.eigenpairs(_diag_op(), 1, seed=-1), "seed"),
            ("op a list", lambda e: e.eigenpairs([1.0, 2.0]), "op"),
        ),
    ),
    "hutchinson_trace": Row(
        valid=lambda: ((_diag_op(),), {"samples": 3}),
        refusals=(
            ("samples 0", lambda e: e.hutchinson_trace(_diag_op(), 0), "samples"),
            ("samples huge", lambda e: e.hutchinson_trace(_diag_op(), 10**9), "samples"),
            ("negative seed", lambda e: e.hutchinson_trace(_diag_op(), 2, -1), "seed"),
            ("op None", lambda e: e.hutchinson_trace(None), "op"),
        ),
    ),
    "lanczos": Row(
        valid=lambda: ((_diag_op(), np.ones(3), 2), {}),
        refusals=(
            ("v0 wrong length", lambda e: e.lanczos(_diag_op(), np.ones(2), 2), "v0"),
            ("v0 strings", lambda e: e.lanczos(_diag_op(), ["a", "b", "c"], 2), "v0"),
            ("v0 zero", lambda e: e.lanczos(_diag_op(), np.zeros(3), 2), "v0"),
            ("steps 0", lambda e: e.lanczos(_diag_op(), np.ones(3), 0), "steps"),
        ),
    ),
    "spectral_density": Row(
        valid=lambda: ((_diag_op(),), {"steps": 2, "probes": 1, "points": 16}),
        refusals=(
            ("sigma 0", lambda e: e.spectral_density(_diag_op(), sigma=0.0), "sigma"),
            ("points below 16", lambda e: e.spectral_density(_diag_op(), points=3), "points"),
            ("probes 0", lambda e: e.spectral_density(_diag_op(), probes=0), "probes"),
            ("steps float", lambda e: e.spectral_density(_diag_op(), steps=1.5), "steps"),
        ),
    ),
    # plan_network_hessian is run_network_hessian's checks alone: the same call and refusals
    "run_network_hessian": _hessian_row("run_network_hessian"),
    "plan_network_hessian": _hessian_row("plan_network_hessian"),
    "goe_minimum_probability": Row(
        valid=lambda: (([1, 2],), {"samples": 50}),
        refusals=(
            ("dims strings", lambda e: e.goe_minimum_probability(["a"]), "dims"),
            ("dims repeated", lambda e: e.goe_minimum_probability([2, 2]), "dims"),
            ("dims 0", lambda e: e.goe_minimum_probability([0]), "dims"),
            ("samples 0", lambda e: e.goe_minimum_probability([1], 0), "samples"),
            ("negative seed", lambda e: e.goe_minimum_probability([1], 10, -1), "seed"),
        ),
    ),
    "network_critical_points": Row(
        valid=lambda: (([1, 2, 1],), {"starts": 2, "train_steps": 2, "iterations": 2,
                                      "dataset": {"name": "sine", "n_train": 6}}),
        refusals=(
            ("layers strings", lambda e: e.network_critical_points(["a"]), "layers"),
            ("starts 0", lambda e: e.network_critical_points([1, 2, 1], starts=0), "starts"),
            ("lr 0", lambda e: e.network_critical_points([1, 2, 1], lr=0.0), "lr"),
            ("weight_decay NaN", lambda e: e.network_critical_points([1, 2, 1], weight_decay=float("nan")),
             "weight_decay"),
            ("start_params wrong shape", lambda e: e.network_critical_points([1, 2, 1], starts=2,
                                                                             start_params=np.zeros((2, 3))),
             "start_params"),
            ("start_params strings", lambda e: e.network_critical_points([1, 2, 1], starts=1,
                                                                         start_params=[["a"] * 7]), "start_params"),
        ),
    ),
    "edge_of_stability_preset": Row(
        valid=lambda: ((), {"lr": 0.05}),
        refusals=(
            ("lr 0", lambda e: e.edge_of_stability_preset(0.0), "lr"),
            ("lr a string", lambda e: e.edge_of_stability_preset("fast"), "lr"),
        ),
    ),
    "run_gradient_profile": Row(
        valid=lambda: ((), {"depth": 2, "width": 3, "batch": 4}),
        refusals=(
            ("depth 0", lambda e: e.run_gradient_profile(depth=0), "depth"),
            ("width float", lambda e: e.run_gradient_profile(width=2.5), "width"),
            ("unknown activation", lambda e: e.run_gradient_profile(2, 3, "nope"), "activation"),
            ("unknown init", lambda e: e.run_gradient_profile(2, 3, init={"name": "nope"}), "init"),
            ("training unknown key", lambda e: e.run_gradient_profile(2, 3, training={"z": 1}), "training"),
            ("clip unknown", lambda e: e.run_gradient_profile(2, 3, clip={"nope": 1}), "clip"),
            ("negative seed", lambda e: e.run_gradient_profile(2, 3, seed=-1), "seed"),
        ),
    ),
    "run_network_landscape": Row(
        valid=lambda: (([2, 2, 1],), {"dataset": {"name": "moons", "n": 6}, "dims": 1, "resolution": 3,
                                      "train_steps": 1}),
        refusals=(
            ("dims 3", lambda e: e.run_network_landscape([2, 1], dims=3), "dims"),
            ("dims array", lambda e: e.run_network_landscape([2, 1], dims=np.ones(2)), "dims"),
            ("unknown dataset", lambda e: e.run_network_landscape([2, 1], dataset={"name": "nope"}), "dataset"),
            ("first width wrong", lambda e: e.run_network_landscape([3, 1]), "layers"),
            ("unknown loss", lambda e: e.run_network_landscape([2, 1], loss="nope"), "loss"),
            ("span 0", lambda e: e.run_network_landscape([2, 1], span=0.0), "span"),
        ),
    ),
    # --- language models: engine.corpora, engine.tokenizer, engine.lm_* ------------------------------
    "make_corpus": Row(
        valid=lambda: (({"name": "reverse", "length": 2, "n_train": 8, "n_val": 4},), {}),
        refusals=(
            ("unknown name", lambda e: e.make_corpus({"name": "nope"}), "corpus"),
            ("not an object", lambda e: e.make_corpus(["names"]), "corpus"),
            ("unknown parameter", lambda e: e.make_corpus({"name": "reverse", "z": 1}), "corpus"),
            ("n_train huge", lambda e: e.make_corpus({"name": "reverse", "n_train": 10**9}), "corpus"),
        ),
    ),
    "build_tokenizer": Row(
        valid=lambda: (("hello",), {"max_vocab": 10}),
        refusals=(
            ("text a list", lambda e: e.build_tokenizer(["a", "b"]), "text"),
            ("text empty", lambda e: e.build_tokenizer(""), "text"),
            ("text bytes", lambda e: e.build_tokenizer(b"ab"), "text"),
            ("max_vocab 0", lambda e: e.build_tokenizer("ab", 0), "max_vocab"),
            ("max_vocab float", lambda e: e.build_tokenizer("ab", 2.5), "max_vocab"),
        ),
    ),
    "count_baselines": Row(
        valid=lambda: ((_corpus(),), {}),
        refusals=(("not a corpus", lambda e: e.count_baselines({"name": "names"}), "c"),),
    ),
    "corpus_summary": Row(
        valid=lambda: ((_corpus(),), {}),
        refusals=(("not a corpus", lambda e: e.corpus_summary("names"), "c"),),
    ),
    "build_lm_model": Row(
        valid=lambda: (({"name": "bigram"}, 3), {}),
        refusals=(
            ("unknown name", lambda e: e.build_lm_model({"name": "nope"}, 3), "model"),
            ("unknown parameter", lambda e: e.build_lm_model({"name": "bigram", "z": 1}, 3), "model"),
            ("V 0", lambda e: e.build_lm_model({"name": "bigram"}, 0), "V"),
            ("V float", lambda e: e.build_lm_model({"name": "bigram"}, 2.5), "V"),
            ("n_head does not divide", lambda e: e.build_lm_model({"name": "gpt", "d_model": 6, "n_head": 4}, 3),
             "model"),
        ),
    ),
    "init_lm_params": Row(
        valid=lambda: ((_bigram(),), {"seed": 1}),
        refusals=(
            ("not a model", lambda e: e.init_lm_params({"name": "bigram"}), "model"),
            ("negative seed", lambda e: e.init_lm_params(_bigram(), -1), "seed"),
        ),
    ),
    "lm_loss_and_grad": Row(
        valid=lambda: ((_bigram(), np.zeros(9), np.array([0, 1, 2, 0, 1]), np.array([0]), 3), {}),
        refusals=(
            ("params short", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(3), [0, 1, 2], [0], 1), "params"),
            ("stream floats", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0.5, 1, 2], [0], 1), "stream"),
            ("stream strings", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), ["a", "b"], [0], 1), "stream"),
            ("token outside V", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0, 1, 7], [0], 1), "stream"),
            ("window past the end", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0, 1, 2], [2], 1),
             "starts"),
            ("starts empty", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0, 1, 2], [], 1), "starts"),
            ("T 0", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0, 1, 2], [0], 0), "T"),
            ("weights wrong length", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0, 1, 2], [0], 1,
                                                                  np.ones(2)), "weights"),
            ("train not bool", lambda e: e.lm_loss_and_grad(_bigram(), np.zeros(9), [0, 1, 2], [0], 1,
                                                            train="yes"), "train"),
            ("not a model", lambda e: e.lm_loss_and_grad("bigram", np.zeros(9), [0, 1, 2], [0], 1), "model"),
        ),
    ),
    "sample_text": Row(
        valid=lambda: ((_bigram(), np.zeros(9), _abc(), "a", 3), {"temperature": 0.5, "top_k": 2, "seed": 1}),
        refusals=(
            ("params short", lambda e: e.sample_text(_bigram(), np.zeros(2), _abc(), "a", 3), "params"),
            ("tokenizer of another size", lambda e: e.sample_text(_bigram(), np.zeros(9), e.build_tokenizer("ab"),
                                                                  "a", 3), "tokenizer"),
            ("tokenizer a dict", lambda e: e.sample_text(_bigram(), np.zeros(9), {"a": 0}, "a", 3), "tokenizer"),
            ("prompt empty", lambda e: e.sample_text(_bigram(), np.zeros(9), _abc(), "", 3), "prompt"),
            ("prompt outside the vocabulary", lambda e: e.sample_text(_bigram(), np.zeros(9), _abc(), "z", 3),
             "prompt"),
            ("length huge", lambda e: e.sample_text(_bigram(), np.zeros(9), _abc(), "a", 10**6), "length"),
            ("temperature negative", lambda e: e.sample_text(_bigram(), np.zeros(9), _abc(), "a", 3, -1.0),
             "temperature"),
        ),
    ),
    "encode_parameters": Row(
        valid=lambda: ((_bigram(), np.zeros(9)), {}),
        refusals=(
            ("params short", lambda e: e.encode_parameters(_bigram(), np.zeros(3)), "params"),
            ("params strings", lambda e: e.encode_parameters(_bigram(), ["a"] * 9), "params"),
            ("not a model", lambda e: e.encode_parameters(None, np.zeros(9)), "model"),
        ),
    ),
    "decode_parameters": Row(
        valid=lambda: ((_bigram(), _blob()), {}),
        refusals=(
            ("not base64", lambda e: e.decode_parameters(_bigram(), "!!!"), "parameters"),
            ("wrong size", lambda e: e.decode_parameters(_bigram(), "AAAAAAAAAAA="), "parameters"),
            ("a list", lambda e: e.decode_parameters(_bigram(), [1, 2]), "parameters"),
            ("not a model", lambda e: e.decode_parameters("m", _blob()), "model"),
        ),
    ),
    "inspect_lm": Row(
        valid=lambda: ((_TINY_CORPUS, {"name": "bigram"}), {"prompt": "ab", "top_k": 2}),
        refusals=(
            ("prompt missing", lambda e: e.inspect_lm(_TINY_CORPUS, {"name": "bigram"}), "prompt"),
            ("prompt a list", lambda e: e.inspect_lm(_TINY_CORPUS, {"name": "bigram"}, prompt=["a"]), "prompt"),
            ("unknown model", lambda e: e.inspect_lm(_TINY_CORPUS, {"name": "nope"}, prompt="ab"), "model"),
            ("unknown corpus", lambda e: e.inspect_lm({"name": "nope"}, prompt="ab"), "corpus"),
            ("top_k 0", lambda e: e.inspect_lm(_TINY_CORPUS, {"name": "bigram"}, prompt="ab", top_k=0), "top_k"),
            ("parameters not base64", lambda e: e.inspect_lm(_TINY_CORPUS, {"name": "bigram"}, "!!", "ab"),
             "parameters"),
        ),
    ),
    "train_lm": Row(
        valid=lambda: ((), _lm_kw()),
        mutate=False,  # each call trains a model: the refusals below cover every argument instead
        refusals=_lm_refusals("train_lm"),
    ),
    "lm_stream": Row(
        valid=lambda: ((), _lm_kw()),
        mutate=False,  # as train_lm
        refusals=_lm_refusals("lm_stream"),
    ),
    # --- sweeps and scaling fits: engine.sweeps, engine.sweep_analysis, engine.scaling ------------------
    "plan_sweep": Row(
        valid=lambda: (("descent/trajectory", dict(_DESCENT)), {"axes": {"optimizer.lr": [0.01, 0.1]}}),
        refusals=_sweep_refusals("plan_sweep"),
    ),
    "sweep": Row(
        valid=lambda: (("descent/trajectory", dict(_DESCENT)), {"axes": {"optimizer.lr": [0.01, 0.1]},
                                                                 "client": "sync"}),
        mutate=False,  # client=None starts a Dask cluster: the refusals cover every argument instead
        refusals=_sweep_refusals("sweep") + (
            ("client unknown", lambda e: e.sweep("descent/trajectory", dict(_DESCENT), client="no-such-thing"),
             "client"),
            ("client a number", lambda e: e.sweep("descent/trajectory", dict(_DESCENT), client=3), "client"),
            ("progress not callable", lambda e: e.sweep("descent/trajectory", dict(_DESCENT), client="sync",
                                                        progress="yes"), "progress"),
        ),
    ),
    "heatmap": Row(
        valid=lambda: ((_sweep_result(), "final_loss", "steps", "optimizer.lr"), {}),
        refusals=(
            ("unknown metric", lambda e: e.heatmap(_sweep_result(), "nope", "steps", "optimizer.lr"), "metric"),
            ("x not an axis", lambda e: e.heatmap(_sweep_result(), "final_loss", "nope", "optimizer.lr"), "x"),
            ("y = x", lambda e: e.heatmap(_sweep_result(), "final_loss", "steps", "steps"), "y"),
            ("res not a result", lambda e: e.heatmap({"rows": []}, "final_loss", "steps", "optimizer.lr"), "res"),
        ),
    ),
    "scaling_curves": Row(
        valid=lambda: ((_sweep_result(), "final_loss", "steps"), {"bootstrap": 2}),
        refusals=(
            ("unknown metric", lambda e: e.scaling_curves(_sweep_result(), "nope", "steps"), "metric"),
            ("x unknown", lambda e: e.scaling_curves(_sweep_result(), "final_loss", "nope"), "x"),
            ("unknown loss", lambda e: e.scaling_curves(_sweep_result(), "final_loss", "steps", loss="nope"), "loss"),
            ("bootstrap negative", lambda e: e.scaling_curves(_sweep_result(), "final_loss", "steps", bootstrap=-1),
             "bootstrap"),
            ("offset not bool", lambda e: e.scaling_curves(_sweep_result(), "final_loss", "steps", offset="no"),
             "offset"),
        ),
    ),
    "scaling_law_fits": Row(
        valid=lambda: ((_sweep_result(), "final_loss", "steps", "optimizer.lr"), {"bootstrap": 2}),
        refusals=(
            ("unknown metric", lambda e: e.scaling_law_fits(_sweep_result(), "nope", "steps", "optimizer.lr"),
             "metric"),
            ("n unknown", lambda e: e.scaling_law_fits(_sweep_result(), "final_loss", "nope", "optimizer.lr"), "n"),
            ("d unknown", lambda e: e.scaling_law_fits(_sweep_result(), "final_loss", "steps", "nope"), "d"),
            ("unknown loss", lambda e: e.scaling_law_fits(_sweep_result(), "final_loss", "steps", "optimizer.lr",
                                                          loss=["l2"]), "loss"),
        ),
    ),
    "seed_bands": Row(
        valid=lambda: ((_sweep_result(), "loss_curve"), {}),
        refusals=(
            ("a number metric", lambda e: e.seed_bands(_sweep_result(), "final_loss"), "metric"),
            ("unknown metric", lambda e: e.seed_bands(_sweep_result(), "nope"), "metric"),
            ("res None", lambda e: e.seed_bands(None, "loss_curve"), "res"),
        ),
    ),
    "fit_power_law": Row(
        valid=lambda: ((np.array([1.0, 2.0, 4.0, 8.0]), np.array([2.5, 1.9, 1.5, 1.3])), {"bootstrap": 2}),
        refusals=(
            ("x and y lengths differ", lambda e: e.fit_power_law([1.0, 2.0, 4.0], [1.0, 2.0]), "x"),
            ("x not positive", lambda e: e.fit_power_law([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), "x"),
            ("x strings", lambda e: e.fit_power_law(["a", "b", "c"], [1.0, 2.0, 3.0]), "x"),
            ("y 2-D", lambda e: e.fit_power_law([1.0, 2.0, 3.0], np.ones((3, 1))), "y"),
            ("unknown loss", lambda e: e.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], loss="nope"), "loss"),
            ("loss a list", lambda e: e.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], loss=["l2"]), "loss"),
            ("bootstrap float", lambda e: e.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], bootstrap=1.5),
             "bootstrap"),
            ("delta 0", lambda e: e.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], delta=0.0), "delta"),
        ),
    ),
    "fit_scaling_law": Row(
        valid=lambda: ((*_grid_nd(),), {"bootstrap": 2}),
        refusals=(
            ("N and L lengths differ", lambda e: e.fit_scaling_law([1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
             "N"),
            ("D not positive", lambda e: e.fit_scaling_law([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), "D"),
            ("L strings", lambda e: e.fit_scaling_law([1.0, 2.0], [1.0, 2.0], ["a", "b"]), "L"),
            ("too few points", lambda e: e.fit_scaling_law([1.0, 2.0], [1.0, 2.0], [1.0, 2.0]), "N"),
            ("negative seed", lambda e: e.fit_scaling_law(*_grid_nd(), seed=-1), "seed"),
        ),
    ),
}
