"""``make serve``: the API and a local Dask cluster for its sweeps, started and stopped together.

    python -m service.launch                     # what `make serve` runs (HOST, PORT as for gunicorn)

1. the bytecode of engine/ and service/ is written (``compile_bytecode``) and the kernel cache is warmed
   once (``engine.warm_kernels``: an empty cache compiles on every core), so the workers and gunicorn
   below only load kernels and bytecode;
2. unless ``DESCENTLAB_DASK_SCHEDULER`` is set (then sweeps go to that cluster and nothing else
   starts here): ``dask scheduler`` on 127.0.0.1:``DESCENTLAB_DASK_PORT`` (8786; any free port if that
   one is taken) and ``dask worker`` with ``DESCENTLAB_DASK_WORKERS`` single-threaded worker processes
   (default: one per core), each under a nanny that restarts it if it dies, each preloading
   ``engine.sweep_worker`` (kernels warm before the first task);
3. gunicorn (``service/gunicorn_conf.py``) with ``DESCENTLAB_DASK_SCHEDULER`` pointing at that scheduler.

The processes are listed in ``PROCESSES`` order; when one exits, the others are stopped, and Ctrl-C or
SIGTERM stops them all in reverse order (gunicorn first, the scheduler last). A front process (e.g.
nginx, issue 16) is one more entry. The helpers (``start_scheduler``, ``start_workers``, ...) are also
what the tests and ``bench/bench_sweeps.py`` use to start real clusters.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUIET = {"DASK_LOGGING__DISTRIBUTED": "warning"}  # dask's info logs are per task and connection


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def env_for(extra: dict | None = None) -> dict:
    """The environment of every process: one shared kernel cache, the repo importable, dask quiet."""
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update({k: v for k, v in QUIET.items() if k not in os.environ})
    env.update(extra or {})
    return env


def start_scheduler(port: int, host: str = "127.0.0.1", env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", host, "--port", str(port), "--no-dashboard"],
                            env=env_for(env), start_new_session=True, **popen)


def start_workers(address: str, n: int, nanny: bool = True, env: dict | None = None, name: str | None = None,
                  **popen) -> subprocess.Popen:
    """``n`` single-threaded worker processes (one ``dask worker`` command) that warm the kernels first."""
    cmd = [str(BIN / "dask"), "worker", address, "--nworkers", str(n), "--nthreads", "1", "--no-dashboard",
           "--preload", "engine.sweep_worker", "--death-timeout", "60", "--nanny" if nanny else "--no-nanny"]
    if name:
        cmd += ["--name", name]
    threads = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_THREADING_LAYER": "workqueue",
               # Dask's statistical profiler samples the task thread every 10 ms, for as long as the worker
               # lives: CPU taken from the runs, and it sees only the numba call each run is inside
               "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
    return subprocess.Popen(cmd, env=env_for({**threads, **(env or {})}), start_new_session=True, **popen)


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 60.0, proc: subprocess.Popen | None = None):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:2]} exited with {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


def wait_for_workers(address: str, n: int, timeout: float = 120.0) -> None:
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as c:
        c.wait_for_workers(n, timeout=timeout)


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process's group (a dask worker's nannies and workers too), SIGKILL after ``timeout``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def compile_bytecode() -> None:
    """Write the .pyc files of the engine and the service, as installing the package does (the image's
    ``pip install``). With PYTHONDONTWRITEBYTECODE set (this machine's shell, the Dockerfile) an editable
    checkout is otherwise compiled from source at every start: 71 modules, ~0.25 s of each start."""
    import compileall

    for package in ("engine", "service"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def warm_cache() -> None:
    """Compile (or load) every kernel once, showing progress on stderr: minutes on a fresh clone."""
    subprocess.run([sys.executable, "-c", "import engine; engine.warm_kernels(progress=True)"], env=env_for(),
                   check=True)


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    compile_bytecode()
    warm_cache()
    processes: list[tuple[str, subprocess.Popen]] = []
    extra = {}
    if not os.environ.get("DESCENTLAB_DASK_SCHEDULER"):
        port = int(os.environ.get("DESCENTLAB_DASK_PORT", "8786"))
        if not port_free(port):
            port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        scheduler = start_scheduler(port)
        processes.append(("dask scheduler", scheduler))
        wait_for_port(port, proc=scheduler)
        n = int(os.environ.get("DESCENTLAB_DASK_WORKERS") or cores())
        processes.append((f"dask worker x{n}", start_workers(address, n)))
        extra["DESCENTLAB_DASK_SCHEDULER"] = address
        print(f"descentlab: Dask scheduler {address}, {n} sweep workers", flush=True)
    gunicorn = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "service" / "gunicorn_conf.py"),
                                 "service:create_app()"], env=env_for({"HOST": host, **extra}),
                                start_new_session=True)
    processes.append(("gunicorn", gunicorn))

    def shutdown(signum=None, frame=None):
        for _, p in reversed(processes):
            stop(p)
        sys.exit(0 if signum else 1)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    while True:
        for name, p in processes:
            if p.poll() is not None:
                print(f"descentlab: {name} exited ({p.returncode}); stopping the rest", file=sys.stderr, flush=True)
                shutdown()
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
