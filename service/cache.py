"""Response cache: every endpoint is a deterministic function of its request, so repeat answers are free.

* **Strong ETag** from the request alone: a hash of the method, the path (and query), the request
  body in canonical form (parsed, keys sorted, re-serialized: spacing and key order do not matter)
  and the service version (the package version plus a hash of the engine's and service's sources,
  so a deploy that changes a computation changes every tag).
* **If-None-Match** naming that tag → 304 before any work: the tag depends on the request only.
* **Cache-Control** ``public, max-age=…`` on cacheable 200s, so browsers (for GETs) and proxies (nginx
  caches POST results in the compose topology, ``deploy/nginx.conf``) reuse them.
* A bounded in-process **LRU** of response bodies (``max_bytes`` in all, ``max_entry`` each): a hit costs
  a hash and a dictionary lookup, no validation, no engine call, no serialization.

Policy, by route: ``POST`` routes under ``/api/`` (every computation) are cached unless their view opts
out with ``@uncached("why")``; ``GET`` routes only when their view opts in with ``@cacheable("why")``
(a GET usually reads state: a sweep's status must never be answered from a cache), as the catalog does.
A POST that is not a deterministic function of its request must opt out: measured timings
(``/networks/backprop``'s ``cost``), side effects (creating a sweep), streams. Streams
(``text/event-stream``) and anything but a 200 are never stored whatever the policy.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import orjson

_ROOT = Path(__file__).resolve().parent.parent


def uncached(reason: str):
    """Mark a view as not cacheable (no ETag, no LRU, no proxy caching); ``reason`` documents why."""

    def mark(view):
        view._descentlab_uncached = reason
        return view

    return mark


def cacheable(reason: str):
    """Mark a GET view as cacheable: its answer depends on the request alone (``reason`` says why)."""

    def mark(view):
        view._descentlab_cacheable = reason
        return view

    return mark


def _marked(view, attr: str) -> bool:
    while view is not None:
        if getattr(view, attr, None):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def is_cached(method: str, view) -> bool:
    """The route policy above."""
    if method == "POST":
        return not _marked(view, "_descentlab_uncached")
    return method == "GET" and _marked(view, "_descentlab_cacheable")


def service_version() -> str:
    """``<package version>+<12 hex of a hash of engine/ and service/ sources>``."""
    try:
        version = importlib.metadata.version("descentlab")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    h = hashlib.blake2b(digest_size=6)
    for pkg in ("engine", "service"):
        for p in sorted((_ROOT / pkg).rglob("*.py")):
            h.update(p.relative_to(_ROOT).as_posix().encode())
            h.update(p.read_bytes())
    return f"{version}+{h.hexdigest()}"


@dataclass(frozen=True)
class Entry:
    body: bytes
    content_type: str


class ResponseCache:
    def __init__(self, version: str, max_bytes: int, max_entry: int, max_age: int, max_body: int):
        self.version = version
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self.max_age = max_age
        self.max_body = max_body  # request bodies larger than this are not looked up (rarely repeated)
        self._lru: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._tags: OrderedDict[bytes, str] = OrderedDict()  # raw request digest -> ETag (skips re-parsing)
        self._lock = threading.Lock()
        self.hits = self.misses = self.not_modified = 0

    @property
    def cache_control(self) -> str:
        return f"public, max-age={self.max_age}"

    def etag(self, method: str, path: str, body: bytes) -> str | None:
        """The strong ETag of a request, or None when its body is not JSON (the app answers 400)."""
        raw = hashlib.blake2b(b"%s %s\n%s" % (method.encode(), path.encode("utf-8", "surrogateescape"), body),
                              digest_size=16).digest()
        with self._lock:
            tag = self._tags.get(raw)
        if tag is not None:
            return tag
        if body.strip():
            try:
                canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
            except orjson.JSONDecodeError:
                return None
        else:
            canonical = b""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.version.encode(), method.encode(), path.encode("utf-8", "surrogateescape"), canonical):
            h.update(part)
            h.update(b"\0")
        tag = f'"{h.hexdigest()}"'
        with self._lock:
            self._tags[raw] = tag
            while len(self._tags) > 8192:
                self._tags.popitem(last=False)
        return tag

    def get(self, tag: str) -> Entry | None:
        with self._lock:
            entry = self._lru.get(tag)
            if entry is not None:
                self._lru.move_to_end(tag)
                self.hits += 1
            else:
                self.misses += 1
            return entry

    def put(self, tag: str, entry: Entry) -> None:
        size = len(entry.body)
        if size > self.max_entry:
            return
        with self._lock:
            old = self._lru.pop(tag, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._lru[tag] = entry
            self._bytes += size
            while self._bytes > self.max_bytes and self._lru:
                _, dropped = self._lru.popitem(last=False)
                self._bytes -= len(dropped.body)

    def stats(self) -> dict:
        with self._lock:
            return {"entries": len(self._lru), "bytes": self._bytes, "hits": self.hits, "misses": self.misses,
                    "not_modified": self.not_modified}


def matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 If-None-Match: ``*`` or a list of tags (weak comparison: W/ prefixes ignored)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == tag for t in if_none_match.split(","))
