"""Training a language model on a corpus: seeded batches of windows, AdamW + warmup-cosine by
default, evaluations with generated samples, streamed or in one call.

::

    r = train_lm(corpus={"name": "names"}, model={"name": "gpt"}, steps=500)
    r.history.val_loss, r.samples[-1]["text"], r.baselines["bigram"], r.floor

One step (torch's loop, ``model.train()``)::

    starts = B window starts drawn with engine.rng from (seed, step)     # uniform over the split
    loss = Σ w·(−ln p[next]) / Σ w over the B·T targets; loss.backward()  # engine.lm_models
    clip_grad_norm_(max_norm=1.0)                                          # default; engine.lm_optim
    AdamW step (decay on matrices and embeddings only), lr = lr[step − 1]

Windows: ``T = block_size`` positions starting anywhere in the stream, or, for corpora of fixed
documents (names, reverse, sort), one document each (T = its length − 1; the gpt's block_size must
hold it).

Evaluations at steps 0, eval_every, 2·eval_every, ..., steps record (``History``):
``train_loss`` and ``val_loss``: the loss of the current parameters (no dropout) on two fixed samples,
the validation split cut into consecutive windows and as many training windows at seeded positions,
each of about ``eval_tokens`` targets (the whole validation split when it is smaller); ``lr``: the
learning rate the next step uses; ``grad_norm``: the 2-norm, before clipping, of the mini-batch
gradient at the evaluated parameters (the batch the next step uses: at step 0 the first step's
gradient); ``block_grad_norm``: the same per parameter block; and a seeded sample of text.

Reference lines, with every run: ``floor`` (the corpus's exact floor where known), ``floor_window``
(the exact floor for windows of T targets: a target at position t sees only t + 1 tokens),
``baselines`` (``engine.corpora.count_baselines``: uniform ln V, unigram, bigram).

Randomness: ``np.random.SeedSequence(seed)`` gives the seeds of the initial parameters, the batches,
dropout, the training evaluation sample and the samples. A run is a pure function of its request.
Divergence (a non-finite loss or gradient) ends the run with ``status = "diverged"``; the history
keeps the finite evaluations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, NamedTuple

import numpy as np

from .results import resultclass
from ._jit import as_int, kernel
from .corpora import Corpus, count_baselines, make_corpus
from .deadlines import run_chunked
from .errors import EngineInputError, field_prefix
from .limits import LIMITS, check_max
from .lm_inspect import decode_parameters, encode_parameters
from .lm_layout import GPT, MLP, new_buffers
from .lm_models import LMModel, activation_floats, build_lm_model, init_lm_params, lm_backward, lm_forward
from .lm_optim import LMOptim, lm_grad_norm, lm_lrs, lm_step, resolve_lm_optim
from .lm_sample import sample_tokens
from .mlp import set_blas_threads
from .registry import ParamSpec, resolve_params
from .rng import key_uniform, stream_key
from .validate import check_bool, check_mapping

__all__ = ["LMHistory", "LMStream", "LMTrainResult", "lm_stream", "train_lm"]

# Per-model optimizer defaults (the catalog shows them), filling what a request leaves out: a learning
# rate each model trains well with in the default budget; for the gpt nanoGPT's small-model choices,
# beta2 0.99 and weight decay 0.1 (measured on names, 2000 steps: val 1.953 against 1.975 with torch's
# AdamW defaults and lr 0.005).
MODEL_DEFAULTS = {"bigram": {"lr": 0.1}, "mlp": {"lr": 0.01},
                  "gpt": {"lr": 0.01, "betas": [0.9, 0.99], "weight_decay": 0.1}}
DEFAULT_CLIP = {"max_norm": 1.0}

RUN_PARAMS = (
    ParamSpec("steps", 2000, 1, LIMITS["max_lm_steps"], "int", "optimizer steps (limit max_lm_steps)"),
    ParamSpec("batch_size", 32, 1, LIMITS["max_lm_batch"], "int", "windows per step (limit max_lm_batch)"),
    ParamSpec("eval_every", 100, 1, LIMITS["max_lm_steps"], "int", "steps between evaluations (limit max_lm_evals "
                                                                  "on their number)"),
    ParamSpec("eval_tokens", 4096, 1, LIMITS["max_lm_eval_tokens"], "int",
              "targets in each fixed evaluation sample (limit max_lm_eval_tokens)"),
    ParamSpec("seed", 0, 0, 2**32 - 1, "int", "seeds the initial parameters, batches, dropout and samples"),
)
SAMPLING_PARAMS = (
    ParamSpec("length", 64, 0, LIMITS["max_lm_sample_chars"], "int", "tokens generated per sample"),
    ParamSpec("temperature", 1.0, 0.0, 10.0, "float", "softmax(logits/temperature); 0 is greedy"),
    ParamSpec("top_k", 0, 0, LIMITS["max_lm_vocab"], "int", "keep the k most likely tokens (0: all)"),
)


class _OneBlasThread:
    """BLAS on one thread while a run computes (restored after): the models' matrix products are small
    (at most 4096 x 512 x 128), where OpenBLAS's extra threads cost more than they bring, and on a
    loaded machine they spin against the other processes (measured: a 500-step gpt run 96 s -> 6.4 s)."""

    def __enter__(self):
        self.before = set_blas_threads()
        if self.before is not None and self.before != 1:
            set_blas_threads(1)

    def __exit__(self, *exc):
        if self.before is not None and self.before != 1:
            set_blas_threads(self.before)


class LMData(NamedTuple):
    """A training split as the steps read it: windows start at stride·i, i < n_starts."""

    stream: np.ndarray  # int64 tokens
    weights: np.ndarray  # float64 weight of predicting each token
    n_starts: int
    stride: int
    need: np.ndarray  # documents: positions each one needs (window_length); empty for a stream


def _doc_need(weights: np.ndarray, doc_len: int) -> np.ndarray:
    """Per document, the positions a window needs to reach its last counted target (at least 1)."""
    w = weights[:weights.size - weights.size % doc_len].reshape(-1, doc_len) > 0
    last = doc_len - 1 - np.argmax(w[:, ::-1], axis=1)
    return np.maximum(np.where(w.any(axis=1), last, 1), 1).astype(np.int64)


def window_length(need: np.ndarray, stride: int, starts: np.ndarray, T: int) -> int:
    """The positions a batch of windows needs: T for a stream; for documents (names, reverse, sort) the
    longest of the batch's documents up to its last counted target. The positions after it are
    padding, not counted, and causal models' earlier positions never see them, so leaving them out
    changes no number (names: windows of ~10 instead of 12 positions)."""
    if need.size == 0:
        return T
    return int(need[starts // stride].max())


# =============================================================================================
# Kernels
# =============================================================================================
@kernel
def _draw_starts(starts, seed, step, n_starts, stride):
    """The step's window starts: stride·⌊u·n_starts⌋, u from engine.rng's (seed, step) stream."""
    key = stream_key(seed, step, as_int(0))
    for b in range(starts.shape[0]):
        i = int(key_uniform(key, b) * n_starts)
        starts[b] = stride * min(i, n_starts - 1)


def _batch_grad(s: "LMSetup", params, grad, step: int, buf, starts) -> float:
    """grad = the gradient of step ``step``'s mini-batch loss at ``params``; returns that loss.

    A step is milliseconds of kernels, so the loop over steps stays in Python (~1% of a step at the
    default size): the model kernels are then compiled once each, not again inside every kernel that
    would call them (numba links and optimizes a callee's code again in each caller; with the loop,
    the evaluation and the sampling compiled, the language models' cold compile took 4x longer)."""
    m, d = s.model, s.data
    _draw_starts(starts, s.seeds[0], step, d.n_starts, d.stride)
    T = window_length(d.need, d.stride, starts, s.T)
    total, wsum = lm_forward(m.cfg, m.off, params, d.stream, starts, T, d.weights, buf, True, int(s.seeds[1]), step)
    scale = 1.0 / wsum if wsum > 0.0 else 0.0
    lm_backward(m.cfg, m.off, params, grad, d.stream, starts, T, d.weights, buf, scale, True)
    return total * scale


def _train_chunk(s: "LMSetup", params, grad, s0: int, s1: int, buf, starts, rec) -> int:
    """Steps s0+1 .. s1. On entry ``grad`` holds step s0+1's gradient and rec[s0+1] = (its loss, its
    norm); on exit grad holds step s1+1's (the next batch at the new parameters). Returns the last step
    completed (< s1 when a loss or gradient stopped being finite)."""
    done = [s1]

    def steps(a: int, b: int) -> bool:  # steps s0+1+a .. s0+b; true: diverged, stop
        for t in range(s0 + 1 + a, s0 + 1 + b):
            if not (math.isfinite(rec[t, 0]) and math.isfinite(rec[t, 1])):
                done[0] = t - 1
                return True
            lm_step(s.opt, params, grad, t, s.lrs[t - 1])
            rec[t + 1, 0] = _batch_grad(s, params, grad, t + 1, buf, starts)
            rec[t + 1, 1] = lm_grad_norm(grad)
        return False

    run_chunked(s1 - s0, steps, "language-model training")  # under engine.deadline: stops between chunks
    return done[0]


def _evaluate(m: LMModel, params, stream, weights, starts, T: int, B: int, buf, need, stride: int) -> float:
    """The weighted mean loss (no dropout) over the windows ``starts``, B at a time."""
    total = 0.0
    wsum = 0.0
    for i in range(0, starts.shape[0], B):
        chunk = starts[i:i + B]
        Tc = window_length(need, stride, chunk, T)
        a, w = lm_forward(m.cfg, m.off, params, stream, chunk, Tc, weights, buf, False, 0, 0)
        total += a
        wsum += w
    return total / wsum if wsum > 0.0 else 0.0


# =============================================================================================
# Setup: validate and resolve everything before any kernel runs
# =============================================================================================
@dataclass(frozen=True, eq=False)
class LMSetup:
    corpus: Corpus
    model: LMModel
    T: int
    data: LMData
    val_starts: np.ndarray
    train_starts: np.ndarray
    opt: LMOptim
    optimizer: dict
    schedule: dict
    lrs: np.ndarray  # steps + 1 entries
    steps: int
    batch_size: int
    eval_steps: tuple[int, ...]
    seeds: np.ndarray  # int64 [batches, dropout]
    init_seed: int
    sample_seed: int
    sampling: dict
    sample_prompt: np.ndarray
    clip: dict | None
    params0: np.ndarray
    return_parameters: bool
    work: float
    request: dict = field(repr=False)


def _windows(c: Corpus, model: LMModel) -> int:
    """T: the window length for this corpus and model (checked against the model and the splits)."""
    if c.doc_len:
        T = c.doc_len - 1
        if model.cfg.kind == GPT and T > model.cfg.block:
            raise EngineInputError("model.block_size", f"must be at least {T}: a window spans one {c.name} "
                                                       f"document of {c.doc_len} tokens")
        return T
    T = model.cfg.block
    shortest = min(c.train.size, c.val.size)
    if shortest <= T:
        raise EngineInputError("model.block_size", f"must be below {shortest}: the shorter split has "
                                                   f"{shortest} tokens and a window needs block_size + 1")
    return T


def _eval_starts(c: Corpus, T: int, eval_tokens: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation windows: consecutive from the start; training windows: as many at seeded positions)."""
    want = max(1, -(-eval_tokens // T))
    if c.doc_len:
        n_val, n_train = c.val.size // c.doc_len, c.train.size // c.doc_len
        val = np.arange(min(want, n_val), dtype=np.int64) * c.doc_len
        tr = np.sort(np.random.default_rng(seed).choice(n_train, size=min(val.size, n_train), replace=False))
        return val, tr.astype(np.int64) * c.doc_len
    val = np.arange(min(want, (c.val.size - 1) // T), dtype=np.int64) * T
    tr = np.random.default_rng(seed).integers(0, c.train.size - T, size=val.size)
    return val, np.sort(tr).astype(np.int64)


def _fwd_flops(model: LMModel, B: int, T: int) -> int:
    """Operations of one forward pass over B windows of T positions, counted so that one operation
    costs about the same time in every model: 2 per parameter and position (the matrix products), the
    causal attention products, and 40 per activation and position (layer norms, GELU or tanh, the
    softmax over the vocabulary: elementwise work, slower per operation than a matrix product)."""
    cfg = model.cfg
    N = B * T
    f = 2 * model.n_params * N + 40 * N * cfg.V
    if cfg.kind == GPT:
        f += cfg.L * (2 * B * T * T * cfg.C + 40 * N * 12 * cfg.C)
    elif cfg.kind == MLP:
        f += 40 * N * (cfg.context * cfg.C + 2 * cfg.hidden)
    return f


def run_flops(model: LMModel, B: int, T: int, steps: int, n_evals: int, eval_windows: int, sample_len: int) -> int:
    """Work of a run in floating-point operations (the max_lm_work limit): the steps (+1: the last
    evaluation's gradient) at 3 forward passes each, two evaluation samples of ``eval_windows`` windows
    per evaluation, and each evaluation's sample (a forward pass over up to a window per token)."""
    window = T if model.cfg.kind == GPT else 1
    return ((steps + 1) * 3 * _fwd_flops(model, B, T) + n_evals * 2 * eval_windows * _fwd_flops(model, 1, T)
            + n_evals * sample_len * _fwd_flops(model, 1, window))


def prepare_lm(corpus=None, model=None, optimizer=None, schedule=None, clip: Any = DEFAULT_CLIP, sampling=None,
               return_parameters: bool = False, parameters=None, **run) -> LMSetup:
    """Validate and resolve a training request (the keyword arguments of ``train_lm``)."""
    request = {"corpus": corpus, "model": model, "optimizer": optimizer, "schedule": schedule, "clip": clip,
               "sampling": sampling, **run}
    c = make_corpus(corpus if corpus is not None else {"name": "names"})
    m = build_lm_model(model if model is not None else {"name": "gpt"}, c.tokenizer.size)
    with field_prefix("", strip="run"):  # the run's own fields are top-level fields of the request
        r = resolve_params(RUN_PARAMS, {k: v for k, v in run.items() if v is not None}, "run")
    steps, B = r["steps"], r["batch_size"]
    T = _windows(c, m)
    eval_steps = tuple(sorted(set(range(0, steps, r["eval_every"])) | {steps}))
    check_max("eval_every", len(eval_steps), "max_lm_evals")
    check_max("batch_size", activation_floats(m, B, T), "max_lm_activations")
    samp = check_mapping("sampling", sampling)
    prompt_text = samp.pop("prompt", None)
    sp = resolve_params(SAMPLING_PARAMS, {k: v for k, v in samp.items() if v is not None}, "sampling")
    prompt_text = c.sample_prompt if prompt_text is None else prompt_text
    if not isinstance(prompt_text, str) or not prompt_text:
        raise EngineInputError("sampling.prompt", "must be a non-empty string")
    check_max("sampling.prompt", len(prompt_text), "max_lm_prompt_chars")
    prompt = c.tokenizer.encode(prompt_text, "sampling.prompt")
    sp["prompt"] = prompt_text
    ss = np.random.SeedSequence(r["seed"]).generate_state(5)
    opt, opt_echo = resolve_lm_optim(optimizer, MODEL_DEFAULTS[m.name], m.n_params, m.n_decay, clip)
    lrs, sched_echo = lm_lrs(schedule, opt_echo["lr"], steps)
    val_starts, train_starts = _eval_starts(c, T, r["eval_tokens"], int(ss[3]))
    work = run_flops(m, B, T, steps, len(eval_steps), val_starts.size, sp["length"])
    if work > LIMITS["max_lm_work"]:
        raise EngineInputError("steps", f"the run's work {work:,} FLOPs (steps x batch x model, evaluations and "
                                        f"samples: engine.lm_train.run_flops) exceeds limit max_lm_work="
                                        f"{LIMITS['max_lm_work']:,}; use fewer steps or a smaller model or batch")
    params0 = init_lm_params(m, int(ss[0])) if parameters is None else decode_parameters(m, parameters)
    if c.doc_len:
        data = LMData(c.train, c.train_weights, c.train.size // c.doc_len, c.doc_len,
                      _doc_need(c.train_weights, c.doc_len))
    else:
        data = LMData(c.train, c.train_weights, c.train.size - T, 1, np.zeros(0, dtype=np.int64))
    return LMSetup(c, m, T, data, val_starts, train_starts, opt, opt_echo, sched_echo, lrs, steps, B, eval_steps,
                   np.array([ss[1], ss[2]], dtype=np.int64), int(ss[0]), int(ss[4]), sp, prompt,
                   None if clip is None else dict(clip), params0, check_bool("return_parameters", return_parameters), work,
                   request)


# =============================================================================================
# Running, recording, reporting
# =============================================================================================
@resultclass(columns=True)
@dataclass(frozen=True)
class LMHistory:
    """One entry per evaluation (columnar)."""

    step: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    lr: np.ndarray
    grad_norm: np.ndarray
    block_grad_norm: dict  # block name -> norms per evaluation
    tokens: np.ndarray  # training tokens (targets) seen by then


@resultclass
@dataclass(frozen=True)
class LMTrainResult:
    vocab: list
    floor: float | None
    floor_window: float | None
    baselines: dict
    history: LMHistory
    samples: list  # [{"step", "text"}]
    batch_loss: np.ndarray  # the mini-batch loss of each step 1..steps_run
    status: str  # completed | diverged
    steps_run: int
    final_train_loss: float | None
    final_val_loss: float | None
    n_params: int
    layout: list
    parameters: dict | None
    corpus: dict
    settings: dict
    elapsed_s: float
    tokens_per_s: float


class LMStream:
    """A run as an iterator of evaluation records, one chunk of steps per ``next``, then ``.result``.

    ``for rec in LMStream(setup)`` yields dicts (step, train_loss, val_loss, lr, grad_norm,
    block_grad_norm, sample, tokens); after the last, ``.result`` is the ``LMTrainResult`` (the same
    numbers ``train_lm`` returns). Stop iterating (or ``close()``) and no further step is computed.
    """

    def __init__(self, setup: LMSetup):
        s = self.setup = setup
        m = s.model
        self.params = s.params0.copy()
        self.grad = np.zeros(m.n_params)
        self.buf = new_buffers(m.cfg, s.batch_size, s.T, dropout=m.cfg.dropout > 0)
        self.sample_buf = new_buffers(m.cfg, 1, m.cfg.block if m.cfg.kind == GPT else 1)
        self.starts = np.zeros(s.batch_size, dtype=np.int64)
        self.rec = np.full((s.steps + 2, 2), np.nan)
        self.records: list[dict] = []
        self.samples: list[dict] = []
        self.result: LMTrainResult | None = None
        self._k = 0  # next evaluation index
        self._done = 0  # steps completed
        self._status = "completed"
        self._closed = False
        self._elapsed = 0.0
        self._first = True

    def __iter__(self) -> Iterator[dict]:
        return self

    def __next__(self) -> dict:
        s = self.setup
        if self._closed or self.result is not None:
            raise StopIteration
        if self._k < len(s.eval_steps) and self._status == "completed":
            with _OneBlasThread():
                rec = self._advance()
            if rec is not None:
                return rec
        self.result = self._result()
        raise StopIteration

    def _advance(self) -> dict | None:
        """Train up to the next evaluation step and evaluate there (None: the run diverged)."""
        s = self.setup
        t0 = time.perf_counter()
        if self._first:
            self.rec[1, 0] = _batch_grad(s, self.params, self.grad, 1, self.buf, self.starts)
            self.rec[1, 1] = lm_grad_norm(self.grad)
            self._first = False
        target = s.eval_steps[self._k]
        if target > self._done:
            done = _train_chunk(s, self.params, self.grad, self._done, target, self.buf, self.starts, self.rec)
            self._done = done
            if done < target:
                self._status = "diverged"
        rec = self._evaluate() if self._status == "completed" else None
        self._elapsed += time.perf_counter() - t0
        self._k += 1
        if rec is not None:
            self.records.append(rec)
        return rec

    def _evaluate(self) -> dict | None:
        s, m = self.setup, self.setup.model
        c = s.corpus
        d = s.data
        val_need = _doc_need(c.val_weights, c.doc_len) if c.doc_len else d.need
        tr = _evaluate(m, self.params, c.train, c.train_weights, s.train_starts, s.T, s.batch_size, self.buf, d.need,
                       d.stride)
        va = _evaluate(m, self.params, c.val, c.val_weights, s.val_starts, s.T, s.batch_size, self.buf, val_need,
                       d.stride)
        gn = self.rec[self._done + 1, 1]
        if not (math.isfinite(tr) and math.isfinite(va) and math.isfinite(gn)):
            self._status = "diverged"
            return None
        blocks = {b.name: float(np.linalg.norm(self.grad[b.offset:b.offset + b.size])) for b in m.blocks}
        text = ""
        if s.sampling["length"]:
            ids = sample_tokens(m, self.params, s.sample_prompt, s.sampling["length"], s.sampling["temperature"],
                                s.sampling["top_k"], s.sample_seed, self._done, self.sample_buf)
            text = c.tokenizer.decode(ids)
        self.samples.append({"step": self._done, "text": text})
        return {"step": self._done, "train_loss": float(tr), "val_loss": float(va), "lr": float(s.lrs[self._done]),
                "grad_norm": float(gn), "block_grad_norm": blocks, "sample": text,
                "tokens": int(self._done * s.batch_size * s.T)}

    def close(self) -> None:
        self._closed = True

    def _result(self) -> LMTrainResult:
        s, m, c = self.setup, self.setup.model, self.setup.corpus
        recs = self.records
        col = lambda k: np.array([r[k] for r in recs], dtype=np.float64)  # noqa: E731
        hist = LMHistory(
            step=np.array([r["step"] for r in recs], dtype=np.int64), train_loss=col("train_loss"),
            val_loss=col("val_loss"), lr=col("lr"), grad_norm=col("grad_norm"),
            block_grad_norm={b.name: np.array([r["block_grad_norm"][b.name] for r in recs]) for b in m.blocks},
            tokens=np.array([r["tokens"] for r in recs], dtype=np.int64))
        batch = self.rec[1:self._done + 1, 0].copy()
        tokens = self._done * s.batch_size * s.T
        return LMTrainResult(
            vocab=list(c.vocab), floor=c.floor, floor_window=c.window_floor(s.T), baselines=count_baselines(c),
            history=hist, samples=list(self.samples), batch_loss=batch, status=self._status, steps_run=self._done,
            final_train_loss=float(hist.train_loss[-1]) if recs else None,
            final_val_loss=float(hist.val_loss[-1]) if recs else None,
            n_params=m.n_params, layout=m.layout(),
            parameters=encode_parameters(m, self.params) if s.return_parameters else None,
            corpus=_corpus_info(s),
            settings=_settings(s), elapsed_s=self._elapsed,
            tokens_per_s=tokens / self._elapsed if self._elapsed > 0 else 0.0)


def _corpus_info(s: LMSetup) -> dict:
    c = s.corpus
    targets = (s.val_starts[:, None] + np.arange(1, s.T + 1)).ravel()
    targets = targets[c.val_weights[targets] > 0]
    source = c.source_loss(targets)
    return {"name": c.name, "params": c.params, "train_tokens": int(c.train.size), "val_tokens": int(c.val.size),
            "split": c.split, "floor_sample": c.floor_sample, "floor_se": c.floor_se,
            # the source's own loss on exactly the validation targets val_loss counts: what a val_loss may
            # dip below the floor by chance is this sample's deviation, about 2 standard errors
            "floor_eval": None if source is None else source[0], "floor_eval_se": None if source is None else source[1]}


def _settings(s: LMSetup) -> dict:
    return {"model": {"name": s.model.name, **s.model.params}, "optimizer": s.optimizer, "schedule": s.schedule,
            "clip": s.clip, "steps": s.steps, "batch_size": s.batch_size, "block_size": s.T,
            "eval_steps": list(s.eval_steps), "eval_windows": int(s.val_starts.size),
            "eval_targets": {"val": float(s.corpus.val_weights[s.val_starts[:, None] + np.arange(1, s.T + 1)].sum()),
                             "train": float(s.corpus.train_weights[s.train_starts[:, None] + np.arange(1, s.T + 1)].sum())},
            "sampling": s.sampling, "seed": s.request.get("seed") or 0, "work_flops": s.work,
            "loss": "mean next-token cross-entropy (nats) over counted targets"}


def train_lm(corpus: Mapping[str, Any] | None = None, model: Mapping[str, Any] | None = None,
             optimizer: Mapping[str, Any] | None = None, schedule: Mapping[str, Any] | None = None,
             clip: Mapping[str, Any] | None = DEFAULT_CLIP, sampling: Mapping[str, Any] | None = None,
             return_parameters: bool = False, parameters: Mapping[str, Any] | None = None, steps: int = 2000,
             batch_size: int = 32, eval_every: int = 100, eval_tokens: int = 4096, seed: int = 0) -> LMTrainResult:
    """Train a character-level language model (see the module docstring for what one step and one evaluation do).

    ``corpus`` (default names, engine.corpora), ``model`` (default gpt, engine.lm_models), ``optimizer`` (AdamW
    defaults per model), ``schedule`` (default warmup_cosine), ``clip`` (global-norm clipping; None: off),
    ``sampling`` (prompt, length, temperature, top_k of the samples taken at each evaluation),
    ``return_parameters``/``parameters`` (export the trained parameters / start from exported ones),
    ``steps``, ``batch_size``, ``eval_every``, ``eval_tokens``, ``seed``. Refusals name the argument.

    >>> r = engine.train_lm(corpus={"name": "reverse", "length": 2, "n_train": 8, "n_val": 4},
    ...                     model={"name": "bigram"}, steps=2, batch_size=2, eval_every=1, sampling={"length": 2})
    >>> r.status, r.history.step.tolist()
    ('completed', [0, 1, 2])
    """
    st = LMStream(prepare_lm(corpus=corpus, model=model, optimizer=optimizer, schedule=schedule, clip=clip, sampling=sampling,
                 return_parameters=return_parameters, parameters=parameters, steps=steps, batch_size=batch_size,
                 eval_every=eval_every, eval_tokens=eval_tokens, seed=seed))
    for _ in st:
        pass
    return st.result


def lm_stream(corpus: Mapping[str, Any] | None = None, model: Mapping[str, Any] | None = None,
             optimizer: Mapping[str, Any] | None = None, schedule: Mapping[str, Any] | None = None,
             clip: Mapping[str, Any] | None = DEFAULT_CLIP, sampling: Mapping[str, Any] | None = None,
             return_parameters: bool = False, parameters: Mapping[str, Any] | None = None, steps: int = 2000,
             batch_size: int = 32, eval_every: int = 100, eval_tokens: int = 4096, seed: int = 0) -> LMStream:
    """``train_lm``'s run as an iterator of evaluation records (validated before the first step); arguments:
    ``train_lm``'s. After the last record ``.result`` holds the ``LMTrainResult``.

    >>> st = engine.lm_stream(corpus={"name": "reverse", "length": 2, "n_train": 8, "n_val": 4},
    ...                       model={"name": "bigram"}, steps=2, batch_size=2, eval_every=2, sampling={"length": 2})
    >>> [rec["step"] for rec in st], st.result.status
    ([0, 2], 'completed')
    """
    return LMStream(prepare_lm(corpus=corpus, model=model, optimizer=optimizer, schedule=schedule, clip=clip, sampling=sampling,
                 return_parameters=return_parameters, parameters=parameters, steps=steps, batch_size=batch_size,
                 eval_every=eval_every, eval_tokens=eval_tokens, seed=seed))


def window_starts(setup: LMSetup, step: int) -> np.ndarray:
    """The window starts of mini-batch ``step`` (1-based) of a run: what the step kernel draws."""
    out = np.zeros(setup.batch_size, dtype=np.int64)
    _draw_starts(out, int(setup.seeds[0]), int(step), setup.data.n_starts, setup.data.stride)
    return out


def describe() -> list[dict]:
    """Catalog entry: run parameters, sampling, per-model defaults, what is recorded."""
    return [{"name": "lm_training", "title": "Training a language model", "parameters": [p.to_dict() for p in RUN_PARAMS],
             "sampling": [p.to_dict() for p in SAMPLING_PARAMS], "model_defaults": MODEL_DEFAULTS,
             "clip": DEFAULT_CLIP, "optimizer": "adamw (weight decay on matrices and embeddings only)",
             "schedule": "warmup_cosine, warmup_steps = steps // 10, stepped once per step",
             "history": ["step", "train_loss", "val_loss", "lr", "grad_norm", "block_grad_norm", "tokens"],
             "statuses": ["completed", "diverged"]}]


def _warmup() -> None:
    for model in ({"name": "bigram"}, {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 4, "dropout": 0.1}):
        train_lm(corpus={"name": "reverse", "length": 2, "n_train": 8, "n_val": 4}, model=model, steps=2,
                 batch_size=2, eval_every=1, sampling={"length": 2})
