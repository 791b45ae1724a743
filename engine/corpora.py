"""Text corpora for language models, each seeded, character-level, with a documented split.

``make_corpus({"name": "names"})`` returns a ``Corpus``: the tokenizer, the training and validation
token streams, a weight per target position (which next-token predictions the loss counts), the
exact loss floor where the source is known, and a few example lines.

The corpora (``CORPORA``, read by the catalog and the schemas):

* ``names``: first names of the US Census 1990 lists in the PyPI package ``names`` (4,275 female,
  1,219 male; public domain), lower-cased and deduplicated. The vocabulary is ``"\\n"`` (start and
  end of a name) and the letters: makemore's 27 symbols. Split: a seeded shuffle of the distinct
  names, ``val_fraction`` of them (default 10%) held out. As in makemore, each name is one document
  ``"\\n" + name + "\\n"`` padded with newlines to a fixed length (13: the longest name has 11
  letters), and the loss counts the letters and the end token: every prediction sees the whole name
  so far, and a window spans one name (T = 12).
* ``markov``: a random order-k Markov chain over ``alphabet`` letters: each of the alphabet^k
  contexts gets next-letter probabilities ``softmax(sharpness · z)``, z standard normal (seeded;
  sharpness 0 is uniform, larger is more predictable). Training and validation streams are two
  independent runs started from the stationary distribution. The **floor** is the chain's entropy
  rate ``H = Σ_c π(c)·H(P(·|c))`` (π the stationary distribution of contexts, found by power
  iteration to ~1e-15): no model beats it in expectation. ``floor_by_context[j]`` is
  ``H(X_{j+1} | X_1..X_j)``, the best loss with only j letters of context (j = k gives H).
* ``reverse`` / ``sort``: problems ``letters|answer\\n`` with ``length`` random letters, the answer
  being them reversed or sorted. Loss is counted on the answer letters only, which the prompt
  determines: floor 0. Validation problems are distinct from every training problem. Windows
  start at a problem's start and span it (T = 2·length + 1).
* ``text``: the request's own text (UTF-8, at most ``max_lm_text_chars`` characters); the first
  ``1 − val_fraction`` of it trains, the rest validates (nanoGPT's contiguous split); vocabulary
  from the whole text (``engine.tokenizer``, byte fallback beyond ``max_lm_vocab``).

Weights. ``train_weights[i]`` is the weight of predicting token ``i`` from the tokens before it
(1 counted, 0 not; ``[0]`` is always 0). Streams count every position; ``reverse``/``sort`` only
answer letters.

Baselines (``count_baselines``): the cross-entropy of count models fitted on the training split:
``uniform`` = ln V; ``unigram`` and ``bigram`` with add-one smoothing, measured on the validation
split (the positions val_loss counts); ``train_mle`` holds the unsmoothed maximum-likelihood values
on the training split itself, the exact optimum a bigram logit table can reach there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Mapping

import numpy as np

from ._jit import kernel
from .errors import EngineInputError
from .limits import LIMITS, check_max
from .registry import ParamSpec, lookup, resolve_params
from .tokenizer import CharTokenizer, build_tokenizer
from .validate import check_spec

__all__ = ["CORPORA", "Corpus", "corpus_summary", "count_baselines", "make_corpus", "CharTokenizer", "build_tokenizer"]

BOUNDARY = "\n"  # end of a line (a name, a problem); also what a sample starts from
SEPARATOR = "|"  # between an algorithmic problem and its answer
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, eq=False)
class Corpus:
    """A tokenized corpus: two token streams, the targets the loss counts, and what is known about it."""

    name: str
    params: dict  # resolved parameters (defaults filled)
    tokenizer: CharTokenizer
    train: np.ndarray  # int64 token stream
    val: np.ndarray  # int64 token stream
    train_weights: np.ndarray  # float64, same length: 1 where predicting token i counts, 0 where not
    val_weights: np.ndarray
    doc_len: int  # 0: windows start anywhere in the stream; n: documents of n tokens, windows start at theirs
    floor: float | None  # exact expected loss floor in nats, where the source is known
    floor_by_context: tuple[float, ...] | None  # markov: best loss with j letters of context, j = 0..order
    floor_sample: float | None  # the source's own mean loss on the validation stream (a realisation of floor)
    floor_se: float | None  # its standard error: how far a validation loss may dip below floor by chance
    sample_prompt: str  # what generated samples start from
    split: str  # how train and validation were made
    examples: tuple[str, ...]  # a few training lines, for people
    source_nll: np.ndarray | None = None  # markov: −ln P(val[i] | its context) under the source (NaN for i < order)

    @property
    def vocab(self) -> tuple[str, ...]:
        return self.tokenizer.vocab

    def source_loss(self, positions: np.ndarray) -> tuple[float, float] | None:
        """(mean, standard error) of the source's own loss at these validation positions, where known."""
        if self.source_nll is None:
            return None
        v = self.source_nll[positions]
        v = v[np.isfinite(v)]
        return float(v.mean()), float(v.std() / math.sqrt(v.size))

    def window_floor(self, T: int) -> float | None:
        """The exact floor of the mean loss over a window of T targets (target t sees t + 1 tokens)."""
        if self.floor_by_context is None:
            return self.floor
        k = len(self.floor_by_context) - 1
        return float(np.mean([self.floor_by_context[min(t + 1, k)] for t in range(T)]))


# ---------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------
def _census_names(which: str) -> list[str]:
    files = {"female": ["dist.female.first"], "male": ["dist.male.first"],
             "all": ["dist.female.first", "dist.male.first"]}[which]
    out = set()
    for f in files:
        text = resources.files("names").joinpath(f).read_text(encoding="ascii")
        out.update(line.split()[0].lower() for line in text.splitlines() if line.strip())
    return sorted(out)


def _docs(tok: CharTokenizer, docs: list[str], doc_len: int, counted) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, weights) of fixed-length documents, each padded with BOUNDARY to ``doc_len``;
    ``counted(doc) -> (first, stop)`` gives the token positions of a document whose prediction counts."""
    toks = tok.encode("".join(d + BOUNDARY * (doc_len - len(d)) for d in docs))
    w = np.zeros(toks.size)
    for i, d in enumerate(docs):
        a, b = counted(d)
        w[i * doc_len + a:i * doc_len + b] = 1.0
    return toks, w


def _all_but_first(n: int) -> np.ndarray:
    """The weights of a stream: every target counts (token 0 has nothing before it)."""
    w = np.ones(n)
    w[0] = 0.0
    return w


def _names(p: dict) -> Corpus:
    """Each name is a document ``"\n" + name + "\n"`` padded with newlines to the longest name's
    length + 2 (makemore's padding); the loss counts the letters and the end token, so every
    prediction sees the whole name so far, and no model is charged for the padding."""
    names = _census_names(p["which"])
    order = np.random.default_rng(p["seed"]).permutation(len(names))
    n_val = max(1, int(round(p["val_fraction"] * len(names))))
    val = [names[i] for i in order[:n_val]]
    train = [names[i] for i in order[n_val:]]
    doc = max(len(x) for x in names) + 2
    tok = build_tokenizer(BOUNDARY + "".join(names))

    def counted(d):  # d = "\n" + name + "\n": the letters and the end token
        return 1, len(d)

    tr, tw = _docs(tok, [BOUNDARY + x + BOUNDARY for x in train], doc, counted)
    va, vw = _docs(tok, [BOUNDARY + x + BOUNDARY for x in val], doc, counted)
    split = (f"{len(names)} distinct names, shuffled with seed {p['seed']}: {len(train)} train, {len(val)} validation "
             f"({p['val_fraction']:.0%}); each name one document of {doc} tokens")
    return Corpus("names", p, tok, tr, va, tw, vw, doc, None, None, None, None, BOUNDARY, split, tuple(train[:5]))


# ---------------------------------------------------------------------------------------------
# markov
# ---------------------------------------------------------------------------------------------
@kernel
def _markov_run(cum, a, k, first, u, out):
    """out = a run of the chain: ``first`` is the starting context index, then one letter per uniform.

    Context index c = Σ letters·a^(k-1-i), most recent letter last; after letter x it becomes
    (c mod a^(k-1))·a + x. ``cum[c]`` is the cumulative next-letter distribution of context c.
    """
    c = first
    base = a ** (k - 1)
    for i in range(k):  # the first k letters spell the starting context
        out[i] = (first // a ** (k - 1 - i)) % a
    for i in range(k, out.shape[0]):
        x = 0
        while x < a - 1 and u[i] >= cum[c, x]:
            x += 1
        out[i] = x
        c = (c % base) * a + x


def markov_chain(alphabet: int, order: int, sharpness: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, π): next-letter probabilities P[c, x] of each context and the stationary distribution π[c]."""
    rng = np.random.default_rng(seed)
    z = sharpness * rng.standard_normal((alphabet ** order, alphabet))
    P = np.exp(z - z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    pi = np.full(alphabet ** order, 1.0 / alphabet ** order)
    rest = alphabet ** (order - 1)
    P3 = P.reshape(alphabet, rest, alphabet)  # [oldest letter, the others, next letter]
    for _ in range(100_000):
        new = np.einsum("fr,frx->rx", pi.reshape(alphabet, rest), P3).reshape(-1)
        new /= new.sum()
        if np.max(np.abs(new - pi)) < 1e-16:
            pi = new
            break
        pi = new
    return P, pi


def _entropy(p: np.ndarray) -> float:
    q = p[p > 0]
    return float(-(q * np.log(q)).sum())


def markov_entropies(P: np.ndarray, pi: np.ndarray, alphabet: int, order: int) -> tuple[float, ...]:
    """H(X_{j+1} | X_1..X_j) for j = 0..order under stationarity; the last one is the entropy rate.

    The (order+1)-gram is J = π(c)·P(x|c); the (j+1)- and j-grams are its marginals over the last
    j+1 and j letters, and H_j = H((j+1)-gram) − H(j-gram).
    """
    J = (pi[:, None] * P).reshape((alphabet,) * (order + 1))
    out = []
    for j in range(order + 1):
        last = J.sum(axis=tuple(range(order - j))) if order > j else J
        prev = last.sum(axis=-1)
        out.append(_entropy(last.reshape(-1)) - (_entropy(prev.reshape(-1)) if j else 0.0))
    return tuple(out)


def _markov_stream(P, pi, alphabet, order, n, rng) -> np.ndarray:
    cum = np.cumsum(P, axis=1)
    first = int(np.searchsorted(np.cumsum(pi), rng.random() * pi.sum(), side="right"))
    out = np.zeros(n, dtype=np.int64)
    _markov_run(cum, alphabet, order, min(first, pi.size - 1), rng.random(n), out)
    return out


def _markov(p: dict) -> Corpus:
    a, k = p["alphabet"], p["order"]
    P, pi = markov_chain(a, k, p["sharpness"], p["seed"])
    hs = markov_entropies(P, pi, a, k)
    rng = np.random.default_rng([p["seed"], 1])
    tr = _markov_stream(P, pi, a, k, p["n_train"], rng)
    va = _markov_stream(P, pi, a, k, p["n_val"], rng)
    # the source's own loss on the validation stream, where its context is complete
    ctx = np.zeros(va.size - k, dtype=np.int64)
    for i in range(k):
        ctx = ctx * a + va[i:va.size - k + i]
    nll = -np.log(P[ctx, va[k:]])
    source_nll = np.concatenate([np.full(k, np.nan), nll])
    tok = build_tokenizer(LETTERS[:a])
    split = (f"two independent runs of the chain from its stationary distribution (seed {p['seed']}): "
             f"{p['n_train']} training letters, {p['n_val']} validation letters")
    return Corpus("markov", p, tok, tr, va, _all_but_first(tr.size), _all_but_first(va.size), 0, hs[-1], hs,
                  float(nll.mean()), float(nll.std() / math.sqrt(nll.size)), LETTERS[int(va[0])], split,
                  tuple(tok.decode(tr[i:i + 48]) for i in range(0, 144, 48)), source_nll)


# ---------------------------------------------------------------------------------------------
# algorithmic tasks
# ---------------------------------------------------------------------------------------------
def _problems(p: dict, answer: Callable[[str], str], name: str) -> Corpus:
    n, a = p["length"], p["alphabet"]
    check_max("corpus.n_train", p["n_train"] * (2 * n + 2), "max_lm_corpus_tokens")
    if p["n_train"] + p["n_val"] > a ** n:
        raise EngineInputError("corpus.n_train", f"n_train + n_val = {p['n_train'] + p['n_val']} exceeds the "
                                                 f"{a ** n} distinct problems of {n} letters over {a}")
    rng = np.random.default_rng(p["seed"])
    seen: dict[str, None] = {}
    while len(seen) < p["n_train"] + p["n_val"]:
        for row in rng.integers(0, a, size=(p["n_train"] + p["n_val"], n)):
            seen.setdefault("".join(LETTERS[i] for i in row))
            if len(seen) == p["n_train"] + p["n_val"]:
                break
    prompts = list(seen)
    lines = [q + SEPARATOR + answer(q) + BOUNDARY for q in prompts]
    tok = build_tokenizer(BOUNDARY + SEPARATOR + LETTERS[:a])
    doc = 2 * n + 2  # letters | answer \n

    def counted(d):  # the answer letters: tokens n+1 .. 2n
        return n + 1, 2 * n + 1

    tr, tw = _docs(tok, lines[:p["n_train"]], doc, counted)
    va, vw = _docs(tok, lines[p["n_train"]:], doc, counted)
    split = (f"{p['n_train']} training and {p['n_val']} validation problems of {n} random letters over {a} "
             f"(seed {p['seed']}), no problem in both; loss on the {n} answer letters only")
    return Corpus(name, p, tok, tr, va, tw, vw, doc, 0.0, None, None, None, BOUNDARY, split,
                  tuple(x[:-1] for x in lines[:3]))


def _reverse(p: dict) -> Corpus:
    return _problems(p, lambda q: q[::-1], "reverse")


def _sort(p: dict) -> Corpus:
    return _problems(p, lambda q: "".join(sorted(q)), "sort")


# ---------------------------------------------------------------------------------------------
# user text
# ---------------------------------------------------------------------------------------------
def _text(p: dict) -> Corpus:
    text = p["text"]
    if not isinstance(text, str) or not text:
        raise EngineInputError("corpus.text", "required: a non-empty string")
    check_max("corpus.text", len(text), "max_lm_text_chars")
    cut = int(round(len(text) * (1.0 - p["val_fraction"])))
    if cut < 2 or len(text) - cut < 2:
        raise EngineInputError("corpus.text", f"too short: {len(text)} characters leave fewer than 2 for training "
                                              f"or validation (val_fraction {p['val_fraction']})")
    tok = build_tokenizer(text, LIMITS["max_lm_vocab"])
    tr, va = tok.encode(text[:cut], "corpus.text"), tok.encode(text[cut:], "corpus.text")
    prompt = BOUNDARY if BOUNDARY in tok.index else tok.decode(va[:1])
    lines = tuple(line for line in text[:cut].splitlines() if line.strip())[:3] or (text[:80],)
    split = f"first {cut} characters train, last {len(text) - cut} validate (contiguous, val_fraction {p['val_fraction']})"
    return Corpus("text", {k: v for k, v in p.items() if k != "text"} | {"chars": len(text)}, tok, tr, va,
                  _all_but_first(tr.size), _all_but_first(va.size), 0, None, None, None, None, prompt, split,
                  tuple(x[:80] for x in lines))


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusSpec:
    name: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    build: Callable[[dict], Corpus]
    floor: str  # what is known about the floor
    limits: Mapping[str, str] | None = None  # parameter -> the LIMITS entry that bounds it (checked first)


def _int(name, default, low, high, doc):
    return ParamSpec(name, default, low, high, "int", doc)


_SEED = _int("seed", 0, 0, 2**32 - 1, "seed of the data (and of the split)")
_VAL = ParamSpec("val_fraction", 0.1, 0.01, 0.5, "float", "fraction held out for validation")
_PROBLEM = (
    _int("length", 5, 2, 16, "letters per problem (a window spans 2·length + 1 tokens)"),
    _int("alphabet", 6, 2, 26, "distinct letters"),
    _int("n_train", 2000, 1, 100_000, "training problems (limit max_lm_corpus_tokens on their tokens)"),
    _int("n_val", 200, 1, 10_000, "validation problems, none equal to a training problem"),
    _SEED,
)

CORPORA: dict[str, CorpusSpec] = {
    "names": CorpusSpec(
        "names", "First names (US Census 1990)", "one name a line; makemore's task",
        (ParamSpec("which", "all", kind="choice", choices=("all", "female", "male"), doc="which name lists"),
         _VAL, _SEED), _names, "unknown (natural data)"),
    "markov": CorpusSpec(
        "markov", "Random Markov chain", "letters from a seeded order-k Markov chain; its entropy rate is the floor",
        (_int("alphabet", 8, 2, 16, "letters"),
         _int("order", 1, 1, 3, "letters of context the chain conditions on"),
         ParamSpec("sharpness", 2.0, 0.0, 10.0, "float", "scale of the random next-letter logits: 0 uniform, "
                                                         "larger more predictable"),
         _int("n_train", 20_000, 100, LIMITS["max_lm_corpus_tokens"], "training letters (limit max_lm_corpus_tokens)"),
         _int("n_val", 8_192, 100, LIMITS["max_lm_corpus_tokens"], "validation letters (limit max_lm_corpus_tokens)"),
         _SEED), _markov, "the entropy rate, exact",
        {"n_train": "max_lm_corpus_tokens", "n_val": "max_lm_corpus_tokens"}),
    "reverse": CorpusSpec("reverse", "Reverse the letters", "abcd|dcba: the answer is the prompt reversed",
                          _PROBLEM, _reverse, "0 on answer positions"),
    "sort": CorpusSpec("sort", "Sort the letters", "cadb|abcd: the answer is the prompt sorted",
                       _PROBLEM, _sort, "0 on answer positions"),
    "text": CorpusSpec(
        "text", "Your text", "any UTF-8 text; vocabulary from its characters",
        (ParamSpec("text", None, kind="string", doc="the text (limit max_lm_text_chars characters)"), _VAL),
        _text, "unknown"),
}


def make_corpus(corpus: Mapping[str, Any]) -> Corpus:
    """``{"name": "markov", "order": 2, ...}`` -> the tokenized ``Corpus`` (see the module docstring); refusals
    name ``corpus.<key>`` (the argument, and a training request's field of the same name).

    >>> c = engine.make_corpus({"name": "reverse", "length": 2, "n_train": 8, "n_val": 4})
    >>> c.tokenizer.size > 0, c.train.dtype
    (True, dtype('int64'))
    """
    spec = check_spec("corpus", corpus, "{'name': 'names'}")
    name = spec.get("name")
    if name is None:
        raise EngineInputError("corpus.name", "required; choose one of: " + ", ".join(CORPORA))
    s = lookup(CORPORA, name, "corpus.name")
    given = {k: v for k, v in spec.items() if k != "name" and v is not None}
    for key, limit in (s.limits or {}).items():  # name the limit before the generic range check does
        v = given.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            check_max(f"corpus.{key}", v, limit)
    text = given.pop("text", None) if s.name == "text" else None
    p = resolve_params(tuple(q for q in s.params if q.kind != "string"), given, "corpus")
    if s.name == "text":
        p["text"] = text
    return s.build(p)


# ---------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------
def _counts(tokens: np.ndarray, weights: np.ndarray, V: int) -> tuple[np.ndarray, np.ndarray]:
    w = weights[1:]
    uni = np.bincount(tokens[1:], weights=w, minlength=V)
    bi = np.zeros((V, V))
    np.add.at(bi, (tokens[:-1], tokens[1:]), w)
    return uni, bi


def _xent(p: np.ndarray, counts: np.ndarray) -> float:
    """Σ counts·(−ln p) / Σ counts, where a zero count costs nothing (even where p = 0)."""
    m = counts > 0
    return float(-(counts[m] * np.log(p[m])).sum() / counts.sum())


def _check_corpus(c) -> Corpus:
    if not isinstance(c, Corpus):
        raise EngineInputError("c", "must be a Corpus from engine.make_corpus")
    return c


def count_baselines(c: Corpus) -> dict:
    """``uniform``, ``unigram``, ``bigram`` on validation (add-one smoothing), and ``train_mle``: the
    unsmoothed count models on the training split (the bigram one is the logit table's optimum).

    >>> b = engine.count_baselines(engine.make_corpus({"name": "reverse", "length": 2, "n_train": 8, "n_val": 4}))
    >>> sorted(b)
    ['bigram', 'smoothing', 'train_mle', 'uniform', 'unigram']
    """
    _check_corpus(c)
    V = c.tokenizer.size
    uni, bi = _counts(c.train, c.train_weights, V)
    vuni, vbi = _counts(c.val, c.val_weights, V)
    p_uni = (uni + 1.0) / (uni.sum() + V)
    p_bi = (bi + 1.0) / (bi.sum(axis=1, keepdims=True) + V)
    rows = bi.sum(axis=1, keepdims=True)
    mle_bi = np.divide(bi, rows, out=np.zeros_like(bi), where=rows > 0)
    return {
        "uniform": math.log(V),
        "unigram": _xent(np.broadcast_to(p_uni, (V, V)), vbi),
        "bigram": _xent(p_bi, vbi),
        "train_mle": {"unigram": _xent(np.broadcast_to(uni / uni.sum(), (V, V)), bi), "bigram": _xent(mle_bi, bi)},
        "smoothing": "add-one (Laplace) for the validation values; none for train_mle",
    }


def corpus_summary(c: Corpus) -> dict:
    """What ``POST /lm/datasets`` returns: vocabulary, sizes, floor, baselines, examples."""
    _check_corpus(c)
    return {
        "name": c.name, "params": c.params, "vocab": list(c.vocab), "tokenizer": c.tokenizer.to_dict(),
        "train_tokens": int(c.train.size), "val_tokens": int(c.val.size),
        "train_targets": int(c.train_weights.sum()), "val_targets": int(c.val_weights.sum()),
        "doc_len": c.doc_len, "floor": c.floor, "floor_by_context": list(c.floor_by_context or []) or None,
        "floor_sample": c.floor_sample, "floor_se": c.floor_se,
        "baselines": count_baselines(c), "split": c.split, "examples": list(c.examples),
        "sample_prompt": c.sample_prompt,
    }


def describe() -> list[dict]:
    """Catalog entries: each corpus, its parameters and what is known about its floor."""
    return [{"name": s.name, "title": s.title, "description": s.description, "floor": s.floor,
             "parameters": [q.to_dict() for q in s.params]} for s in CORPORA.values()]


def _warmup() -> None:
    make_corpus({"name": "markov", "n_train": 100, "n_val": 100, "order": 2})
