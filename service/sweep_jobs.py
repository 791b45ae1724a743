"""Sweep jobs whose whole state lives in the Dask cluster, so that any API process answers for any job.

Nothing about a job is kept in an API process's memory. On the Dask scheduler:

* **the tasks**: the sweep's plan (``descentlab-sweep-<id>-plan``: every combination's request, sent to
  the cluster once) and one task per batch of runs (``engine.sweep_tasks``: several runs a task, cut by
  their expected cost), keys ``descentlab-sweep-<id>-000000`` ..., all held by a published dataset
  ``descentlab-sweep-<id>`` (``Client.publish_dataset``). The scheduler keeps published futures
  wanted after the client that submitted them is gone, so the runs go on and their results stay on
  the workers when the API process that accepted the job dies; a worker's death makes the scheduler
  rerun its batches, results included (every batch is a pure function of the plan: same numbers);
* **the description** (``Client.set_metadata``, the scheduler's own key-value store):
  ``descentlab/jobs/<id>``: the validated sweep, total, the batches' bounds, created and expiry times, the
  analyses asked for;
  ``descentlab/cancelled/<id>``: when it was cancelled; ``descentlab/expiry/<id>``: its expiry time (the
  index the expiry pass reads);
* **the end**: the first process that sees every task ended writes the whole answer (results,
  aggregates, analyses) to ``descentlab/final/<id>`` and a small ``descentlab/ended/<id>``, then
  unpublishes the tasks, which frees the workers' memory; later reads return that document. Two
  processes finishing at once write the same document.

Progress is the scheduler's own task states (``get_task_status``), counted in runs (a batch that ended
adds its runs); results are gathered from the workers. What survives what: an API process killed,
nothing lost; a worker killed, its running and finished batches rerun elsewhere; the scheduler killed,
every job is lost (it is the store, like a cache server without persistence: resubmit). Jobs expire
``ttl_s`` after submission (default 6 h): any request to ``/sweeps`` then drops their metadata and
tasks, and they answer 404.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Iterator

from engine.sweep_tasks import Batches, RunPlan, batches_for, n_workers, submit, task_key, unpack
from engine.sweeps import SweepPlan, SweepSpec
from engine.sweep_analysis import run_analyses
from engine.sweep_results import collect

log = logging.getLogger("descentlab")

ROOT = "descentlab"
TERMINAL = ("done", "failed", "cancelled")
ENDED_STATES = ("memory", "erred")
EXPIRY_PASS_S = 60.0  # a process looks for expired jobs at most this often


class Unavailable(Exception):
    """No Dask scheduler configured, or it cannot be reached (HTTP 503)."""


def dataset_name(jid: str) -> str:
    return f"descentlab-sweep-{jid}"


class Jobs:
    """Sweep jobs on the Dask scheduler at ``address``; one client per process, connected on first use."""

    def __init__(self, address: str | None, ttl_s: float, url_prefix: str = "/api/v1/sweeps",
                 connect_timeout_s: float = 5.0):
        self.address = address
        self.ttl_s = float(ttl_s)
        self.url_prefix = url_prefix
        self.connect_timeout_s = connect_timeout_s
        self._client = None
        self._pid = None
        self._lock = threading.Lock()
        self._last_expiry = 0.0

    # -- the connection -------------------------------------------------------------------------------
    def client(self):
        with self._lock:
            c = self._client
            if c is not None and self._pid == os.getpid() and c.status == "running":
                return c
            if not self.address:
                raise Unavailable("sweeps need a Dask scheduler: set DESCENTLAB_DASK_SCHEDULER=tcp://host:8786 "
                                  "(make serve starts a local one)")
            import dask
            from distributed import Client

            dask.config.set({"distributed.comm.timeouts.connect": f"{self.connect_timeout_s}s"})
            try:
                self._client = Client(self.address, timeout=self.connect_timeout_s, set_as_default=False,
                                      name=f"descentlab-api-{os.getpid()}")
            except (OSError, TimeoutError) as err:
                self._client = None
                raise Unavailable(f"the Dask scheduler at {self.address} cannot be reached ({err})") from None
            self._pid = os.getpid()
            return self._client

    def _meta(self, c, part: str, jid: str):
        return c.get_metadata([ROOT, part, jid], default=None)

    def _guard(self, fn, *args):
        """Run ``fn(client, *args)``; a lost scheduler becomes ``Unavailable`` (and a new client next time)."""
        c = self.client()
        try:
            return fn(c, *args)
        except (OSError, TimeoutError) as err:
            with self._lock:
                self._client = None
            raise Unavailable(f"the Dask scheduler at {self.address} did not answer ({type(err).__name__}: {err})") \
                from None

    def call(self, method: str, *args):
        """``method`` (one of the ``_`` implementations below, e.g. ``"_status"``) with this process's client:
        what a gevent worker's gateway runs for it (``service.sweep_gateway``)."""
        return self._guard(getattr(self, method), *args)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = None

    # -- public ---------------------------------------------------------------------------------------
    def submit(self, plan: SweepPlan, analysis: dict) -> dict:
        return self._guard(self._submit, plan, analysis)

    def status(self, jid: str) -> dict | None:
        return self._guard(self._status, jid)

    def cancel(self, jid: str) -> dict | None:
        return self._guard(self._cancel, jid)

    def progress(self, jid: str) -> dict | None:
        return self._guard(self._progress, jid)

    def expire(self) -> int:
        """Drop every job past its expiry now (requests do it at most once per EXPIRY_PASS_S); how many."""
        return self._guard(self._expire)

    def events(self, jid: str, max_s: float, poll_s: float = 0.5) -> Iterator[tuple[str, dict]]:
        """("progress", {...}) whenever done or status change, then ("end", {...}) once the job ended;
        returns after ``max_s`` seconds either way (the client reconnects: EventSource does)."""
        t_end = time.monotonic() + max_s
        last = None
        while True:
            p = self.progress(jid)
            if p is not None and p["status"] not in TERMINAL and p["done"] == p["total"]:
                p = self.status(jid)  # every task ended: write the final document, get its status
            if p is None:
                yield "end", {"id": jid, "status": "expired", "done": 0, "total": 0}
                return
            p = {k: p[k] for k in ("id", "status", "done", "total")}
            if p["status"] in TERMINAL:
                yield "end", p
                return
            if p != last:
                yield "progress", p
                last = p
            if time.monotonic() + poll_s > t_end:
                return
            time.sleep(poll_s)

    # -- implementation (each takes the client first) ----------------------------------------------------
    def _url(self, jid: str) -> str:
        return f"{self.url_prefix}/{jid}"

    def _submit(self, c, plan: SweepPlan, analysis: dict) -> dict:
        self._expire_now(c)
        spec = plan.spec
        jid = uuid.uuid4().hex
        created = time.time()
        expires = created + self.ttl_s
        c.set_metadata([ROOT, "expiry", jid], expires)  # first: the expiry pass finds whatever follows
        batches = batches_for(plan, n_workers(c))
        held, futures = submit(c, RunPlan.of(plan), batches, dataset_name(jid))
        c.publish_dataset({"plan": held, "batches": futures}, name=dataset_name(jid))
        c.set_metadata([ROOT, "jobs", jid], {"spec": spec.to_dict(), "analysis": analysis, "total": spec.n_tasks,
                                             "bounds": list(batches.bounds), "created": created, "expires": expires,
                                             "budget": plan.budget})
        return {"id": jid, "url": self._url(jid), "events": self._url(jid) + "/events", "total": spec.n_tasks,
                "status": "queued", "expires": expires}

    @staticmethod
    def _batches(job: dict) -> Batches:
        return Batches(tuple(job["bounds"]))

    def _states(self, c, jid: str, job: dict) -> dict:
        """Batch index -> the scheduler's state of its task (None: unknown to it)."""
        keys = [task_key(dataset_name(jid), b) for b in range(len(self._batches(job)))]
        states = c.sync(c.scheduler.get_task_status, keys=keys)
        return {b: states.get(k) for b, k in enumerate(keys)}

    def _count(self, job: dict, states: dict, cancelled: bool) -> tuple[int, str]:
        """(runs done, status): a batch that ended counts all its runs."""
        ended = [b for b, v in states.items() if v in ENDED_STATES]
        done = self._batches(job).runs_ended(ended)
        if cancelled:
            return done, "cancelled"
        if len(ended) == len(states):
            return done, "ended"
        if not ended and not any(v == "processing" for v in states.values()):
            return done, "queued"
        return done, "running"

    def _progress(self, c, jid: str) -> dict | None:
        job = self._meta(c, "jobs", jid)
        ended = None if job is None else self._meta(c, "ended", jid)
        if job is None or ended is not None:
            return ended and {"id": jid, **ended}
        states = self._states(c, jid, job)
        done, status = self._count(job, states, self._meta(c, "cancelled", jid) is not None)
        if status == "cancelled":
            return self._status(c, jid)  # write the final document now
        return {"id": jid, "status": "running" if status == "ended" else status, "done": done, "total": job["total"]}

    def _gather(self, c, jid: str, job: dict, states: dict) -> tuple[dict[int, dict], list[dict]] | None:
        """Outputs of the finished runs by run index, and the runs whose batch raised; None if the tasks are
        gone."""
        try:
            futures = c.get_dataset(dataset_name(jid))["batches"]
        except KeyError:
            return None
        done = {f.key: f for b, f in enumerate(futures) if states.get(b) == "memory"}
        values = c.gather(done, errors="skip")
        outputs: dict[int, dict] = {}
        for v in values.values():
            if v is not None:
                outputs.update(unpack(v))
        raised, batches = [], self._batches(job)
        for b, f in enumerate(futures):
            if states.get(b) == "erred":
                message = f"{type(f.exception()).__name__}: {f.exception()}"
                raised += [{"task": i, "field": "task", "message": message} for i in batches.runs(b)]
        return outputs, raised

    def _status(self, c, jid: str) -> dict | None:
        self._expire_now(c)
        job = self._meta(c, "jobs", jid)
        final = None if job is None else self._meta(c, "final", jid)
        if job is None or final is not None:
            return final
        spec = SweepSpec.from_dict(job["spec"])
        states = self._states(c, jid, job)
        done, status = self._count(job, states, self._meta(c, "cancelled", jid) is not None)
        got = self._gather(c, jid, job, states)
        if got is None:  # another process finished it meanwhile, or the tasks are lost
            final = self._meta(c, "final", jid)
            return final if final is not None else self._doc(jid, job, spec, "failed", 0, {}, [
                {"task": -1, "field": "task", "message": "the job's tasks are gone from the cluster"}])
        outputs, raised = got
        if status != "ended" and status != "cancelled":
            return self._doc(jid, job, spec, status, done, outputs, raised)
        res_errors = any(o.get("error") for o in outputs.values())
        if status == "cancelled":  # a run that ended while being cancelled may be released unseen: count what is kept
            done = len(outputs) + len(raised)
        if status == "ended":
            status = "failed" if raised or res_errors else "done"
        return self._finish(c, jid, job, spec, status, done, outputs, raised)

    def _doc(self, jid, job, spec, status, done, outputs, raised, analysis=None) -> dict:
        res = collect(spec, outputs)
        errors = list(res.errors) + [{**e, "coords": spec.combination(spec.task(e["task"])[0]),
                                      "seed": spec.task(e["task"])[1]} if e["task"] >= 0 else e for e in raised]
        return {"id": jid, "url": self._url(jid), "events": self._url(jid) + "/events", "kind": spec.kind,
                "status": status, "done": done, "total": job["total"], "created": job["created"],
                "expires": job["expires"], "spec": spec.to_dict(), "results": res.records(),
                "aggregates": [a.to_dict() for a in res.aggregates], "errors": errors,
                "analysis": analysis if analysis is not None else (None if not job["analysis"] else {}),
                "_result": res}

    def _finish(self, c, jid, job, spec, status, done, outputs, raised) -> dict:
        doc = self._doc(jid, job, spec, status, done, outputs, raised)
        res = doc.pop("_result")
        if job["analysis"] and res.rows:
            doc["analysis"] = run_analyses(res, job["analysis"])
        c.set_metadata([ROOT, "final", jid], doc)
        c.set_metadata([ROOT, "ended", jid], {"status": status, "done": done, "total": job["total"]})
        try:
            c.unpublish_dataset(dataset_name(jid))  # the results now live in the final document
        except KeyError:
            pass
        return doc

    def _cancel(self, c, jid: str) -> dict | None:
        job = self._meta(c, "jobs", jid)
        final = None if job is None else self._meta(c, "final", jid)
        if job is None or final is not None:
            return final
        c.set_metadata([ROOT, "cancelled", jid], time.time())
        states = self._states(c, jid, job)
        try:
            futures = c.get_dataset(dataset_name(jid))["batches"]
        except KeyError:
            return self._status(c, jid)
        pending = [f for b, f in enumerate(futures) if states.get(b) not in ENDED_STATES]
        if pending:  # not the plan: cancelling a task cancels its dependents, the finished batches too
            c.cancel(pending, force=True)  # force: the published dataset wants them too
        return self._status(c, jid)

    def _expire_now(self, c) -> int:
        if time.time() - self._last_expiry < EXPIRY_PASS_S:
            return 0
        self._last_expiry = time.time()
        return self._expire(c)

    def _expire(self, c) -> int:
        index = c.get_metadata([ROOT, "expiry"], default=None) or {}
        now, dropped = time.time(), 0
        for jid, expires in index.items():
            if expires is None or expires > now:
                continue
            try:
                c.unpublish_dataset(dataset_name(jid))
            except KeyError:
                pass
            for part in ("jobs", "final", "ended", "cancelled", "expiry"):
                c.set_metadata([ROOT, part, jid], None)  # the scheduler's store cannot delete a key
            dropped += 1
        if dropped:
            log.info("sweeps: %d expired jobs dropped", dropped)
        return dropped


def public(doc: dict | None) -> dict | None:
    """The document without its in-process extras."""
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if not k.startswith("_")}
