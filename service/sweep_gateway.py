"""The Dask client of a gevent worker, in a process of its own.

gunicorn's gevent workers (``service/gunicorn_conf.py``) monkey-patch ``threading`` and ``socket``, and
Dask's ``Client`` cannot run there: its event-loop thread becomes a greenlet of the calling OS thread,
which then sees that loop as its own running loop, so the client never connects (``scheduler`` stays
``None``; ``patch_all(thread=False)`` fails later, in its sockets). So under gevent each worker process
starts one **gateway**: a plain interpreter (``python -m service.sweep_gateway``) holding an ordinary
``sweep_jobs.Jobs``, answering on a Unix socket. ``RemoteJobs`` has the same methods as ``Jobs``; each
call is one pickled ``(method, args)`` over a connection made with the unpatched C socket, blocking the
compute thread it runs in (``service.admission``), never the event loop.

Nothing about a job lives in the gateway either: it forwards to the scheduler, where the state is. It
exits when the worker that started it is gone. Without gevent (Flask's server, tests, sync workers) the
service uses ``Jobs`` directly.
"""

from __future__ import annotations

import _socket
import os
import pickle
import signal
import socketserver
import struct
import sys
import tempfile
import threading
import time

from .sweep_jobs import Jobs, Unavailable

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 60.0  # the gateway imports the engine and distributed (~4 s quiet, longer under load)
_LEN = struct.Struct("!Q")


def under_gevent() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def _posix_spawn():
    if under_gevent():
        from gevent import monkey

        return monkey.get_original("os", "posix_spawn")
    return os.posix_spawn


def _send(sock, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LEN.pack(len(data)) + data)


def _recv_exact(sock, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(min(n - len(buf), 1 << 20))
        if not part:
            raise ConnectionError("the sweep gateway closed the connection")
        buf += part
    return bytes(buf)


def _recv(sock):
    (n,) = _LEN.unpack(_recv_exact(sock, _LEN.size))
    return pickle.loads(_recv_exact(sock, n))


class RemoteJobs(Jobs):
    """``Jobs`` whose Dask calls run in this process's gateway (see the module docstring)."""

    def __init__(self, address: str | None, ttl_s: float, **kw):
        super().__init__(address, ttl_s, **kw)
        self._gateway_pid = None
        self._socket_path = None
        self._gw_lock = threading.Lock()

    def _ensure_gateway(self) -> str:
        with self._gw_lock:
            if self._gateway_pid == os.getpid() and self._socket_path and os.path.exists(self._socket_path):
                return self._socket_path
            path = os.path.join(tempfile.gettempdir(), f"descentlab-sweeps-{os.getpid()}-{time.time_ns():x}.sock")
            # gevent's own posix_spawn watches the child from the default loop, refused in a compute thread
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p))
            _posix_spawn()(sys.executable, [sys.executable, "-m", "service.sweep_gateway", path, self.address,
                                            repr(self.ttl_s), str(os.getpid())], env)
            t_end = time.monotonic() + START_TIMEOUT_S
            while not os.path.exists(path):
                if time.monotonic() > t_end:
                    raise Unavailable(f"the sweep gateway did not start within {START_TIMEOUT_S:g} s")
                time.sleep(0.05)
            self._gateway_pid, self._socket_path = os.getpid(), path
            return path

    def _guard(self, fn, *args):
        if not self.address:
            raise Unavailable("sweeps need a Dask scheduler: set DESCENTLAB_DASK_SCHEDULER=tcp://host:8786 "
                              "(make serve starts a local one)")
        path = self._ensure_gateway()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(path)
            _send(sock, (fn.__name__, args))
            kind, value = _recv(sock)
        except OSError as err:
            with self._gw_lock:
                self._socket_path = None  # start a new gateway next time
            raise Unavailable(f"the sweep gateway did not answer ({type(err).__name__}: {err})") from None
        finally:
            sock.close()
        if kind == "ok":
            return value
        if kind == "unavailable":
            raise Unavailable(value)
        raise RuntimeError(f"sweep gateway: {value}")


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        name, args = _recv(self.request)
        jobs: Jobs = self.server.jobs
        try:
            out = ("ok", jobs.call(name, *args))
        except Unavailable as err:
            out = ("unavailable", str(err))
        except Exception as err:  # noqa: BLE001 - reported to the worker, which logs it as a 500
            out = ("error", f"{type(err).__name__}: {err}")
        _send(self.request, out)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def serve(path: str, address: str, ttl_s: float, parent: int) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped with its worker's process group: clean up
    server = _Server(path + ".tmp", _Handler)
    server.jobs = Jobs(address, ttl_s)
    os.rename(path + ".tmp", path)  # the path appears only once it accepts connections
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        while os.getppid() == parent:  # the worker that started it is gone: so is its gateway
            time.sleep(1.0)
    finally:
        os.unlink(path)
        server.jobs.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
