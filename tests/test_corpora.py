"""engine.corpora and engine.tokenizer: the data, the splits, the exact floors and the baselines,
each against an independent computation (closed forms, brute-force enumeration, counting)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from engine.corpora import (
    CORPORA, count_baselines, corpus_summary, make_corpus, markov_chain, markov_entropies,
)
from engine.errors import EngineInputError
from engine.tokenizer import build_tokenizer


def _h(p):
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# --- names -------------------------------------------------------------------------------------
def test_names_are_the_census_lists_split_without_overlap():
    c = make_corpus({"name": "names"})
    assert c.vocab == tuple("\n" + "abcdefghijklmnopqrstuvwxyz")
    train = [x for x in c.tokenizer.decode(c.train).split("\n") if x]
    val = [x for x in c.tokenizer.decode(c.val).split("\n") if x]
    assert not set(train) & set(val)
    assert len(set(train)) == len(train) and len(set(val)) == len(val)
    total = len(train) + len(val)
    assert 5000 < total <= 4275 + 1219  # distinct names of both lists (some are in both)
    assert len(val) == round(0.1 * total)
    assert {"mary", "james", "emma"} <= set(train) | set(val)
    # makemore's layout: "\n" + name + "\n", padded with newlines to 13 tokens; the letters and the
    # end token count, the padding does not
    assert c.floor is None and c.doc_len == 13 and c.train.size == 13 * len(train)
    doc = c.tokenizer.decode(c.train[:13])
    name = doc.strip("\n")
    assert doc == "\n" + name + "\n" * (12 - len(name))
    assert c.train_weights[:13].tolist() == [0.0] + [1.0] * (len(name) + 1) + [0.0] * (11 - len(name))
    assert c.train_weights.sum() == sum(len(x) + 1 for x in train)
    # the split is a seeded shuffle: another seed, another split of the same names
    d = make_corpus({"name": "names", "seed": 1})
    assert set(d.tokenizer.decode(d.val).split()) != set(val)  # split() drops the newlines
    assert make_corpus({"name": "names", "which": "male"}).train.size < c.train.size


# --- markov ------------------------------------------------------------------------------------
def test_entropy_rate_of_a_two_state_chain_has_its_closed_form():
    a, b = 0.3, 0.1  # P = [[1 - a, a], [b, 1 - b]]: π = (b, a)/(a + b)
    P = np.array([[1 - a, a], [b, 1 - b]])
    pi = np.array([b, a]) / (a + b)
    hs = markov_entropies(P, pi, 2, 1)
    assert hs[1] == pytest.approx(pi[0] * _h([1 - a, a]) + pi[1] * _h([b, 1 - b]), rel=1e-14)
    assert hs[0] == pytest.approx(_h(pi), rel=1e-14)


def test_stationary_distribution_and_entropies_by_brute_force():
    # order 2 over 3 letters: the stationary distribution is the eigenvector of the 9x9 context chain,
    # and H(X_{j+1} | X_1..X_j) comes from the n-gram distributions enumerated one by one
    a, k = 3, 2
    P, pi = markov_chain(a, k, 1.5, seed=4)
    M = np.zeros((a ** k, a ** k))
    for c in range(a ** k):
        for x in range(a):
            M[c, (c % a) * a + x] += P[c, x]
    w, vecs = np.linalg.eig(M.T)
    ref = np.real(vecs[:, np.argmin(abs(w - 1))])
    ref /= ref.sum()
    np.testing.assert_allclose(pi, ref, rtol=1e-12)
    grams = {}
    for c in range(a ** k):
        for x in range(a):
            seq = ((c // a) % a, c % a, x)
            grams[seq] = pi[c] * P[c, x]

    def marg(n):
        out = Counter()
        for seq, p in grams.items():
            out[seq[-n:] if n else ()] += p
        return out

    hs = markov_entropies(P, pi, a, k)
    for j in range(k + 1):
        want = _h(list(marg(j + 1).values())) - (_h(list(marg(j).values())) if j else 0.0)
        assert hs[j] == pytest.approx(want, rel=1e-12)
    assert hs[0] >= hs[1] >= hs[2]  # more context never hurts


def test_markov_stream_follows_its_chain_and_floor_sample_is_near_the_rate():
    c = make_corpus({"name": "markov", "alphabet": 4, "order": 1, "sharpness": 2.0, "n_train": 200_000})
    P, _ = markov_chain(4, 1, 2.0, 0)
    counts = np.zeros((4, 4))
    np.add.at(counts, (c.train[:-1], c.train[1:]), 1.0)
    emp = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(emp, P, atol=0.01)  # 200k transitions: ~1e-3 sampling error
    assert abs(c.floor_sample - c.floor) < 4 * c.floor_se
    assert c.window_floor(1) == pytest.approx(c.floor, rel=1e-15)  # order 1: the first target sees enough
    # the count bigram on 200k letters is within sampling error of the floor too
    assert count_baselines(c)["train_mle"]["bigram"] == pytest.approx(c.floor, abs=0.01)


def test_window_floor_counts_the_positions_without_full_context():
    c = make_corpus({"name": "markov", "order": 3, "alphabet": 4, "n_train": 1000, "n_val": 1000})
    h = c.floor_by_context
    assert c.window_floor(4) == pytest.approx((h[1] + h[2] + h[3] + h[3]) / 4, rel=1e-14)
    assert c.window_floor(64) > c.floor


def test_sharpness_zero_is_uniform():
    c = make_corpus({"name": "markov", "alphabet": 8, "sharpness": 0.0, "n_train": 1000, "n_val": 1000})
    assert c.floor == pytest.approx(math.log(8), rel=1e-14)


# --- algorithmic tasks ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, answer", [("reverse", lambda q: q[::-1]), ("sort", lambda q: "".join(sorted(q)))])
def test_problems_and_answer_weights(name, answer):
    c = make_corpus({"name": name, "length": 4, "alphabet": 5, "n_train": 300, "n_val": 50})
    text = c.tokenizer.decode(c.train)
    lines = text.split("\n")[:-1]
    assert len(lines) == 300 and c.doc_len == 10
    for line in lines:
        q, a = line.split("|")
        assert len(q) == 4 and a == answer(q)
    # weights mark exactly the answer letters
    counted = "".join(ch for ch, w in zip(text, c.train_weights) if w)
    assert counted == "".join(line.split("|")[1] for line in lines)
    val = set(c.tokenizer.decode(c.val).split("\n")[:-1])
    assert not val & set(lines) and len(val) == 50
    assert c.floor == 0.0


def test_too_many_problems_is_refused():
    with pytest.raises(EngineInputError) as e:
        make_corpus({"name": "sort", "length": 2, "alphabet": 3, "n_train": 8, "n_val": 2})
    assert e.value.field == "corpus.n_train"


# --- user text -------------------------------------------------------------------------------------
def test_text_split_and_vocabulary():
    text = "hello world\n" * 20 + "héllo ☃\n"
    c = make_corpus({"name": "text", "text": text})
    assert c.vocab == tuple(sorted(set(text)))
    cut = round(len(text) * 0.9)
    assert c.tokenizer.decode(c.train) == text[:cut] and c.tokenizer.decode(c.val) == text[cut:]


@pytest.mark.parametrize("spec, field", [
    ({"name": "text", "text": ""}, "corpus.text"),
    ({"name": "text"}, "corpus.text"),
    ({"name": "text", "text": "abc"}, "corpus.text"),
    ({"name": "text", "text": "x" * 100_001}, "corpus.text"),
    ({"name": "shakespeare"}, "corpus.name"),
    ({"name": "names", "order": 2}, "corpus.order"),
    ({"name": "markov", "order": 4}, "corpus.order"),
    ({"name": "markov", "n_train": 1_000_001}, "corpus.n_train"),
])
def test_bad_corpora_name_the_field(spec, field):
    with pytest.raises(EngineInputError) as e:
        make_corpus(spec)
    assert e.value.field == field


# --- tokenizer ----------------------------------------------------------------------------------------
def test_tokenizer_round_trip_and_byte_fallback():
    tok = build_tokenizer("abcabcab☃é")
    assert tok.vocab == ("a", "b", "c", "é", "☃") and tok.decode(tok.encode("cab☃")) == "cab☃"
    # 7 characters, 6 tokens allowed: the six rare ones (two UTF-8 bytes each, from C4 C5 C6 80 81)
    # fall back to their 5 distinct bytes, the frequent "a" keeps its token
    rare = "\u0100\u0101\u0140\u0141\u0180\u0181"
    small = build_tokenizer("aaaa" + rare, max_vocab=6)
    assert small.vocab == ("a", "<0x80>", "<0x81>", "<0xC4>", "<0xC5>", "<0xC6>")
    assert small.decode(small.encode("a" + rare[::-1])) == "a" + rare[::-1]
    assert small.encode("\u0141").tolist() == [small.vocab.index("<0xC5>"), small.vocab.index("<0x81>")]
    with pytest.raises(EngineInputError, match="outside the vocabulary"):
        tok.encode("xyz", "prompt")


# --- baselines -------------------------------------------------------------------------------------------
def test_count_baselines_by_direct_counting():
    c = make_corpus({"name": "names"})
    b = count_baselines(c)
    assert b["uniform"] == pytest.approx(math.log(27))
    names = [x for x in c.tokenizer.decode(c.train).split("\n") if x]
    pairs = Counter((a, b) for x in names for a, b in zip("\n" + x, x + "\n"))  # makemore's bigrams
    firsts = Counter(a for a, _ in pairs.elements())
    mle = -sum(n * math.log(n / firsts[i]) for (i, _), n in pairs.items()) / sum(pairs.values())
    assert b["train_mle"]["bigram"] == pytest.approx(mle, rel=1e-12)
    assert b["uniform"] > b["unigram"] > b["bigram"]
    assert b["train_mle"]["bigram"] == pytest.approx(2.33, abs=0.03)  # makemore's ~2.45 with +1 smoothing


def test_summary_lists_every_corpus_key():
    s = corpus_summary(make_corpus({"name": "reverse"}))
    assert s["vocab"][0] == "\n" and s["floor"] == 0.0 and len(s["examples"]) == 3
    assert set(CORPORA) == {"names", "markov", "reverse", "sort", "text"}
