"""A character tokenizer: the vocabulary is the characters of the data, with a byte fallback.

::

    tok = build_tokenizer("hello world\\n")
    ids = tok.encode("hold")            # int64 array
    tok.decode(ids) == "hold"

Vocabulary. The distinct characters of the training data, sorted by code point (so ``"\\n"``, the
boundary token of line corpora, is token 0 whenever it occurs). Each token is its character.

Byte fallback (SentencePiece's ``byte_fallback``, cut to what the data needs). When the data has
more distinct characters than ``max_vocab`` allows, the most frequent characters keep tokens of
their own (ties broken by code point) and every other character is written as the bytes of its
UTF-8 encoding, one token per byte, shown as ``"<0xE2>"``. Only the byte values that occur are
given tokens, so a text with a few rare emoji costs a few byte tokens, not 256. Decoding joins
consecutive byte tokens and decodes them as UTF-8 (``errors="replace"``: a sampled byte sequence
that is not valid UTF-8 shows as U+FFFD). A prompt character that has neither a token nor byte
tokens for all of its bytes is refused (``EngineInputError`` naming the field).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .errors import EngineInputError


def byte_token(b: int) -> str:
    """The display form of the byte token for byte value ``b``: ``"<0xE2>"``."""
    return f"<0x{b:02X}>"


@dataclass(frozen=True)
class CharTokenizer:
    """Characters (and byte fallback tokens) <-> token ids."""

    vocab: tuple[str, ...]  # token id -> its string: a character, or "<0xNN>" for a byte token
    index: dict = field(repr=False, compare=False)  # character -> id (characters only)
    byte_index: dict = field(repr=False, compare=False)  # byte value -> id (byte tokens only)

    @property
    def size(self) -> int:
        return len(self.vocab)

    @property
    def n_byte_tokens(self) -> int:
        return len(self.byte_index)

    def encode(self, text: str, field_name: str = "text") -> np.ndarray:
        """Token ids of ``text`` (int64); characters without a token go through the byte fallback."""
        out: list[int] = []
        missing: list[str] = []
        for ch in text:
            i = self.index.get(ch)
            if i is not None:
                out.append(i)
                continue
            bs = ch.encode("utf-8", errors="surrogatepass")
            if all(b in self.byte_index for b in bs):
                out.extend(self.byte_index[b] for b in bs)
            elif ch not in missing:
                missing.append(ch)
        if missing:
            shown = ", ".join(repr(c) for c in missing[:10])
            raise EngineInputError(field_name, f"characters outside the vocabulary (and its byte fallback): {shown}")
        return np.asarray(out, dtype=np.int64)

    def decode(self, ids) -> str:
        """The text of token ids; runs of byte tokens are decoded as UTF-8 (invalid bytes -> U+FFFD)."""
        parts: list[str] = []
        pending = bytearray()
        inverse = {v: k for k, v in self.byte_index.items()}
        for i in ids:
            i = int(i)
            if i in inverse:
                pending.append(inverse[i])
                continue
            if pending:
                parts.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
            parts.append(self.vocab[i])
        if pending:
            parts.append(pending.decode("utf-8", errors="replace"))
        return "".join(parts)

    def to_dict(self) -> dict:
        return {"kind": "character", "vocab": list(self.vocab), "size": self.size,
                "byte_tokens": self.n_byte_tokens, "order": "characters by code point, then byte tokens by value"}


MAX_TEXT_CHARS = 10_000_000  # a tokenizer's own text (a corpus's training text; user text has its own, smaller, limit)


def build_tokenizer(text: str, max_vocab: int | None = None) -> CharTokenizer:
    """The tokenizer of ``text``: one token per distinct character, byte fallback beyond ``max_vocab``.

    >>> tok = engine.build_tokenizer("abcab")
    >>> tok.vocab, tok.encode("cab").tolist()
    (('a', 'b', 'c'), [2, 0, 1])
    """
    if not isinstance(text, str) or not text:
        raise EngineInputError("text", "must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        raise EngineInputError("text", f"{len(text):,} characters exceed {MAX_TEXT_CHARS:,}")
    if max_vocab is not None:
        if isinstance(max_vocab, bool) or not isinstance(max_vocab, (int, np.integer)) or max_vocab < 1:
            raise EngineInputError("max_vocab", "must be an integer >= 1 (or None: no cap)")
        max_vocab = int(max_vocab)
    counts = Counter(text)
    chars = sorted(counts)
    if max_vocab is None or len(chars) <= max_vocab:
        return _make(chars, [])
    # keep the most frequent characters; the rest need their bytes, which take tokens too
    by_freq = sorted(chars, key=lambda c: (-counts[c], ord(c)))
    for keep in range(min(len(by_freq), max_vocab), -1, -1):
        rest = by_freq[keep:]
        needed = sorted({b for c in rest for b in c.encode("utf-8", errors="surrogatepass")})
        if keep + len(needed) <= max_vocab:
            return _make(sorted(by_freq[:keep]), needed)
    raise EngineInputError("text", f"cannot fit a vocabulary into {max_vocab} tokens")  # max_vocab < 1


def _make(chars: list[str], byte_values: list[int]) -> CharTokenizer:
    vocab = tuple(chars) + tuple(byte_token(b) for b in byte_values)
    index = {c: i for i, c in enumerate(chars)}
    byte_index = {b: len(chars) + k for k, b in enumerate(byte_values)}
    return CharTokenizer(vocab=vocab, index=index, byte_index=byte_index)

