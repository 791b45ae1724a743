"""``make serve``'s process, over real sockets: JSON errors from gunicorn, slow clients, the cache, health.

One server (``bench.server.serving``: the gunicorn command ``make serve`` runs, on a free loopback
port) for the module. What is timed here is only what a client would notice as broken (seconds, not
milliseconds): latency figures are ``bench/bench_fairness.py``'s and ``bench/bench_throughput.py``'s.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlparse

import pytest

from bench.server import GUNICORN, serving

pytestmark = pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn not installed in this environment")


@pytest.fixture(scope="module")
def base():
    with serving(WEB_CONCURRENCY="2") as url:
        yield url


def _addr(base):
    u = urlparse(base)
    return u.hostname, u.port


def _raw(base, data: bytes, read_timeout=10.0) -> tuple[int, dict, bytes]:
    """Send raw bytes; parse the status line, headers and body of the answer."""
    with socket.create_connection(_addr(base), timeout=read_timeout) as s:
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                headers = dict(line.split(": ", 1) for line in head.decode("latin1").split("\r\n")[1:] if ": " in line)
                n = int(headers.get("Content-Length", -1))
                if 0 <= n <= len(body):
                    break
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
    return int(lines[0].split()[1]), headers, body


def _json_error(status, headers, body, code):
    assert status == code, (status, body[:300])
    assert headers["content-type"].startswith("application/json")
    b = json.loads(body)
    assert b["code"] == code and b["status"] and b["message"]
    return b


def _request(base, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection(*_addr(base), timeout=timeout)
    h = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def test_request_line_too_long_is_json_414(base):
    status, headers, body = _raw(base, b"GET /api/v1/catalog?" + b"a" * 6000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert "limit_request_line" in _json_error(status, headers, body, 414)["message"]


def test_header_too_large_is_json_431(base):
    status, headers, body = _raw(base, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    _json_error(status, headers, body, 431)


def test_malformed_request_is_json_400(base):
    status, headers, body = _raw(base, b"GARBAGE\r\n\r\n")
    _json_error(status, headers, body, 400)


def test_chunked_body_over_the_cap_is_json_413(base):
    chunk = b" " * 65536
    req = (b"POST /api/v1/losses/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")
    req += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 200 + b"0\r\n\r\n"  # 13.1 MB > 12 MiB
    status, headers, body = _raw(base, req)
    assert "max_body_bytes=12582912" in _json_error(status, headers, body, 413)["message"]


def test_a_million_empty_objects_three_at_once(base):
    raw = b'{"surface": "himmelblau", "optimizers": [' + b",".join([b"{}"] * 1_000_000) + b"]}"
    out, health = [], []

    def post():
        out.append(_post_raw(base, "/api/v1/descent/race", raw))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    status, _, _ = _request(base, "GET", "/healthz")
    health.append((status, time.monotonic() - t0))
    for t in threads:
        t.join()
    for status, headers, body in out:
        assert status == 422 and len(body) < 64 * 1024
        assert "limit max_body_objects" in json.loads(body)["errors"]["json"]["_body"][0]
    assert health[0][0] == 200


def _post_raw(base, path, raw: bytes):
    conn = http.client.HTTPConnection(*_addr(base), timeout=30)
    conn.request("POST", path, body=raw, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def test_slowloris_is_dropped_and_others_are_served(base):
    s = socket.create_connection(_addr(base))
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    t0 = time.monotonic()
    dropped = None
    while time.monotonic() - t0 < 30:
        # meanwhile everyone else is served at once
        assert _request(base, "GET", "/healthz", timeout=5)[0] == 200
        try:
            s.sendall(b"X")  # one byte a second: headers never finish
            s.settimeout(1.0)
            if s.recv(1) == b"":
                dropped = time.monotonic() - t0
                break
        except socket.timeout:
            continue
        except OSError:
            dropped = time.monotonic() - t0
            break
    s.close()
    assert dropped is not None and dropped < 25, dropped  # keepalive (15 s) bounds the time to send headers


def test_a_client_that_never_reads_does_not_hold_others(base):
    body = json.dumps({"surface": "rosenbrock", "resolution": [1000, 1000], "gradient": True}).encode()
    s = socket.create_connection(_addr(base))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"POST /api/v1/landscapes/grid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(2)  # computed; ~37 MB waiting on a socket nobody reads
    for _ in range(5):
        t0 = time.monotonic()
        assert _request(base, "POST", "/api/v1/losses/evaluate",
                        {"loss": "mse", "predictions": [0.1], "targets": [0.0]}, timeout=5)[0] == 200
        assert time.monotonic() - t0 < 2
    s.close()


def test_cache_tags_revalidates_and_hits(base):
    body = {"loss": "mae", "predictions": [0.25, 0.5], "targets": [0.0, 1.0]}
    status, h1, b1 = _request(base, "POST", "/api/v1/losses/evaluate", body)
    assert status == 200 and h1["etag"].startswith('"') and "max-age" in h1["cache-control"]
    status, h2, _ = _request(base, "POST", "/api/v1/losses/evaluate", body, {"If-None-Match": h1["etag"]})
    assert status == 304 and h2["etag"] == h1["etag"]
    # the same request with other spacing and key order: the same tag; a hit once its worker has it
    same = json.dumps({"targets": [0.0, 1.0], "predictions": [0.25, 0.5], "loss": "mae"}, indent=2)
    seen = set()
    for _ in range(8):
        status, h3, b3 = _post_raw(base, "/api/v1/losses/evaluate", same.encode())
        assert status == 200 and h3["etag"] == h1["etag"] and b3 == b1
        seen.add(h3["x-cache"])
    assert "HIT" in seen


def test_health_answers_at_once_while_heavy_work_runs(base):
    heavy = {"surface": "rastrigin", "resolution": [400, 400], "steps": 200, "tolerance": 0.0,
             "optimizer": {"name": "adam", "lr": 0.01}}
    done = []
    t = threading.Thread(target=lambda: done.append(_request(base, "POST", "/api/v1/descent/basins", heavy)))
    t.start()
    time.sleep(0.5)
    seen_computing = False
    for _ in range(10):
        t0 = time.monotonic()
        status, _, body = _request(base, "GET", "/healthz", timeout=5)
        assert status == 200 and time.monotonic() - t0 < 1.0
        b = json.loads(body)
        assert b["ready"] is True and b["status"] in ("ok", "busy")
        seen_computing |= b["computing"] >= 1
        if not t.is_alive():
            break
        time.sleep(0.1)
    t.join()
    assert done[0][0] in (200, 503)
    assert seen_computing or done[0][0] == 200


def _dechunk(body: bytes) -> list[bytes]:
    """The chunks of a ``Transfer-Encoding: chunked`` body, in order."""
    chunks = []
    while True:
        size_line, _, rest = body.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            return chunks
        chunks.append(rest[:n])
        body = rest[n + 2:]


def test_a_training_stream_arrives_in_batches_with_every_epoch_once_in_order(base):
    """Under the gevent workers the epochs are written in batches (service.sse.BatchPuller): far fewer
    writes than events, and the events the same as /run's history, each once, in order."""
    run = {"dataset": {"name": "sine", "n_train": 24, "n_val": 8, "seed": 0},
           "model": {"layers": [1, 8, 1], "activation": "tanh"}, "optimizer": {"name": "sgd", "lr": 0.05},
           "epochs": 3000, "batch_size": 8}
    status, _, body = _request(base, "POST", "/api/v1/training/run", run)
    assert status == 200
    history = json.loads(body)["history"]
    payload = json.dumps(run).encode()
    conn = http.client.HTTPConnection(*_addr(base), timeout=60)
    conn.putrequest("POST", "/api/v1/training/stream")
    for k, v in (("Content-Type", "application/json"), ("Content-Length", str(len(payload))), ("Connection", "close")):
        conn.putheader(k, v)
    conn.endheaders(payload)
    raw = conn.sock.makefile("rb").read()  # status line, headers and the chunked body as sent
    conn.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
    assert b"x-descentlab-coalesce" not in head.lower()
    chunks = _dechunk(body)
    text = b"".join(chunks).decode()
    blocks = [b for b in text.split("\n\n") if b]
    epochs = [json.loads(b.split("\ndata: ", 1)[1]) for b in blocks if b.startswith("event: epoch\n")]
    assert [e["epoch"] for e in epochs] == list(range(1, run["epochs"] + 1))
    assert [e["train_loss"] for e in epochs] == history["train_loss"]
    assert blocks[-1].startswith("event: summary\n") and len(blocks) == run["epochs"] + 1
    assert len(chunks) < run["epochs"] / 10, len(chunks)
