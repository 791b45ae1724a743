"""engine.lm_train: AdamW steps against torch.optim.AdamW on the torch twin, the bigram's closed-form
optimum, the Markov floor, the streamed run, determinism and divergence.

The figures of the issue's bar that take seconds of training (names: gpt < mlp < bigram; reverse and
sort below 0.1 nats; markov within 5% of its floor) are in tests/test_lm_learning.py."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.corpora import count_baselines, make_corpus
from engine.errors import EngineInputError
from engine.lm_models import build_lm_model, init_lm_params, lm_loss_and_grad
from engine.lm_train import LMStream, lm_stream, prepare_lm, train_lm, window_starts

sys.path.insert(0, str(Path(__file__).resolve().parent))

TINY = {"corpus": {"name": "names"}, "model": {"name": "gpt", "n_layer": 2, "n_head": 2, "d_model": 8},
        "steps": 20, "batch_size": 4, "eval_every": 10, "eval_tokens": 100, "sampling": {"length": 8}}


@pytest.mark.parametrize("schedule, clip, wd", [
    (None, {"max_norm": 1.0}, 0.1),  # the defaults: warmup_cosine, clipping; decay on matrices only
    ({"name": "constant"}, None, 0.0),
])
def test_twenty_adamw_steps_equal_torch(schedule, clip, wd):
    torch = pytest.importorskip("torch")
    import lm_twin

    req = {**TINY, "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": wd}, "schedule": schedule,
           "clip": clip, "eval_every": 20}
    s = prepare_lm(**req)
    ours = train_lm(**req).batch_loss
    m = s.model
    P = lm_twin.leaves(m, s.params0)
    decay = [P[b.name] for b in m.blocks if b.decay]
    plain = [P[b.name] for b in m.blocks if not b.decay]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": plain, "weight_decay": 0.0}], lr=0.01,
                            betas=tuple(s.optimizer["betas"]))
    c = s.corpus
    theirs = []
    for t in range(1, 21):
        loss = lm_twin.loss(m, P, c.train, window_starts(s, t), s.T, c.train_weights)
        opt.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(list(P.values()), clip["max_norm"])
        for g in opt.param_groups:
            g["lr"] = float(s.lrs[t - 1])
        opt.step()
        theirs.append(float(loss.detach()))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert len(set(np.round(ours, 6))) > 10  # the loss moved: the steps did something


def test_bigram_converges_to_the_count_closed_form():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    c = make_corpus({"name": "names"})
    m = build_lm_model({"name": "bigram"}, c.tokenizer.size)
    starts = np.arange(0, c.train.size, c.doc_len)  # every training name: the whole objective
    T = c.doc_len - 1

    def f(p):
        loss, grad = lm_loss_and_grad(m, p, c.train, starts, T, c.train_weights)
        return loss, grad

    r = scipy_optimize.minimize(f, init_lm_params(m), jac=True, method="L-BFGS-B",
                                options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
    closed = count_baselines(c)["train_mle"]["bigram"]
    assert r.fun >= closed - 1e-12  # the closed form is the optimum
    assert r.fun - closed < 1e-6
    # and the learned table is the count matrix, row by row, where a row has counts
    counts = np.zeros((m.cfg.V, m.cfg.V))
    nxt = c.train[1:]
    mask = c.train_weights[1:] > 0
    np.add.at(counts, (c.train[:-1][mask], nxt[mask]), 1.0)
    table = r.x.reshape(m.cfg.V, m.cfg.V)
    sm = np.exp(table - table.max(axis=1, keepdims=True))
    sm /= sm.sum(axis=1, keepdims=True)
    rows = counts.sum(axis=1) > 0
    np.testing.assert_allclose(sm[rows], (counts / np.maximum(counts.sum(axis=1, keepdims=True), 1))[rows], atol=1e-3)


def test_stream_and_train_give_the_same_run():
    a = train_lm(**TINY)
    st = lm_stream(**TINY)
    recs = list(st)
    b = st.result
    assert [r["step"] for r in recs] == [0, 10, 20]
    np.testing.assert_array_equal(a.history.val_loss, b.history.val_loss)
    np.testing.assert_array_equal(a.batch_loss, b.batch_loss)
    assert [x["text"] for x in a.samples] == [r["sample"] for r in recs]
    # the same request twice is the same run; another seed is another run
    np.testing.assert_array_equal(train_lm(**TINY).batch_loss, a.batch_loss)
    assert not np.array_equal(train_lm(**{**TINY, "seed": 1}).batch_loss, a.batch_loss)


def test_closing_a_stream_stops_the_training():
    st = lm_stream(**{**TINY, "steps": 1000})
    next(st)
    next(st)
    st.close()
    assert list(st) == [] and st._done == 10


def test_history_records():
    r = train_lm(**{**TINY, "steps": 30, "eval_every": 7})
    assert r.history.step.tolist() == [0, 7, 14, 21, 28, 30]
    s = prepare_lm(**{**TINY, "steps": 30, "eval_every": 7})
    np.testing.assert_array_equal(r.history.lr, s.lrs[[0, 7, 14, 21, 28, 30]])
    assert r.history.lr[0] == 0.0  # warmup from 0 (transformers' schedule)
    assert r.history.tokens.tolist() == [k * 4 * 12 for k in (0, 7, 14, 21, 28, 30)]
    # the first batch's gradient norm is the step-0 record, and every record is finite
    assert np.all(np.isfinite(r.history.grad_norm)) and r.history.grad_norm[0] > 0
    assert r.floor is None and r.baselines["uniform"] == pytest.approx(math.log(27))


def test_weight_decay_leaves_biases_and_layernorms_alone():
    # lr 0 except through the decay: AdamW's p ← p·(1 − lr·wd) shrinks matrices only; with Adam's
    # update made tiny by a huge eps, the non-decayed blocks stay where they are
    req = {**TINY, "steps": 5, "eval_every": 5, "schedule": {"name": "constant"}, "clip": None,
           "optimizer": {"name": "adamw", "lr": 0.1, "weight_decay": 0.5, "eps": 1e30}, "return_parameters": True}
    r = train_lm(**req)
    s = prepare_lm(**req)
    from engine.lm_inspect import decode_parameters

    p = decode_parameters(s.model, r.parameters)
    for b in s.model.blocks:
        got, start = p[b.offset:b.offset + b.size], s.params0[b.offset:b.offset + b.size]
        want = start * (1 - 0.1 * 0.5) ** 5 if b.decay else start
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-20)


def test_divergence_is_a_status():
    r = train_lm(**{**TINY, "model": {"name": "mlp"}, "optimizer": {"name": "sgd", "lr": 1e307}, "clip": None,
                        "schedule": {"name": "constant"}})
    assert r.status == "diverged" and r.steps_run < 20
    assert np.all(np.isfinite(r.batch_loss)) and np.all(np.isfinite(r.history.val_loss))


@pytest.mark.parametrize("request_, field", [
    ({"steps": 0}, "steps"),
    ({"eval_every": 1, "steps": 500}, "eval_every"),
    ({"batch_size": 65}, "batch_size"),
    ({"sampling": {"top_k": -1}}, "sampling.top_k"),
    ({"sampling": {"prompt": "ABC"}}, "sampling.prompt"),
    ({"optimizer": {"name": "adamw", "betas": [0.9, 1.5]}}, "optimizer.betas"),
    ({"clip": {"max_norm": -1}}, "clip.max_norm"),
    ({"schedule": {"name": "nope"}}, "schedule.name"),
    ({"parameters": {"data": "@@@"}}, "parameters.data"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_requests_name_the_field(request_, field):
    with pytest.raises(EngineInputError) as e:
        prepare_lm(**{**TINY, **request_})
    assert e.value.field == field


def test_markov_floor_for_the_evaluated_sample():
    st = LMStream(prepare_lm(corpus={"name": "markov"}, model={"name": "bigram"}, steps=1, eval_every=1))
    for _ in st:
        pass
    info = st.result.corpus
    assert abs(info["floor_eval"] - st.result.floor) < 4 * info["floor_eval_se"]
