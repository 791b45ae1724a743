"""Sweeps: many runs of one endpoint's request across axes × seeds, run on Dask as an asynchronous job.

``POST`` validates the whole sweep (every combination through the kind's own request schema and the
engine's checks) and submits it: 202 with the job's URL. The job's state lives in the Dask cluster
(``service/sweep_jobs.py``), so any replica answers ``GET``/``DELETE``/``events`` for any job, and a job
survives the process that accepted it. 503 when no Dask scheduler is configured or reachable.
"""

from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint, abort

from ..cache import uncached
from ..jsonio import dumps_bytes
from ..schemas.sweeps import SweepAccepted, SweepRefused, SweepStatus, SweepSubmit, expand
from ..sweep_gateway import RemoteJobs, under_gevent
from ..sweep_jobs import Jobs, Unavailable, public

blp = Blueprint("sweeps", __name__, url_prefix="/api/v1/sweeps",
                description="Many runs across seeds, hyperparameters and sizes, on a Dask cluster: an asynchronous job")

_UNAVAILABLE = {"description": "no Dask scheduler is configured (DESCENTLAB_DASK_SCHEDULER) or it cannot be reached"}
_GONE = {"description": "no such job: unknown, or expired (jobs live DESCENTLAB_SWEEP_TTL_S after submission)"}


def jobs() -> Jobs:
    """This app's job store (one per process; the state itself is in the cluster)."""
    ext = current_app.extensions
    if "descentlab_sweeps" not in ext:
        cls = RemoteJobs if under_gevent() else Jobs  # Dask's client cannot run under gevent's patches
        ext["descentlab_sweeps"] = cls(current_app.config["DASK_SCHEDULER"], current_app.config["SWEEP_TTL_S"])
    return ext["descentlab_sweeps"]


def _call(fn, *args):
    try:
        return fn(*args)
    except Unavailable as err:
        abort(503, message=str(err), headers={"Retry-After": "10"})


def _found(doc):
    if doc is None:
        abort(404, message="no such sweep: unknown, or expired")
    return public(doc)


@blp.route("", methods=["POST"])
@blp.arguments(SweepSubmit)
@blp.response(202, SweepAccepted, headers={"Location": {"description": "the job's URL",
                                                       "schema": {"type": "string"}}})
@blp.alt_response(503, description=_UNAVAILABLE["description"])
@uncached("creates a job: each POST is a new sweep")
def post_sweep(body):
    """Submit a sweep: every combination of the axes, once per seed; 202 with the job's URL (Location)."""
    try:
        valid = expand(body)
    except SweepRefused as err:
        abort(422, messages={"json": err.messages})
    accepted = _call(jobs().submit, valid.plan, valid.analysis)
    return accepted, 202, {"Location": accepted["url"]}


@blp.route("/<string:job_id>", methods=["GET"])
@blp.response(200, SweepStatus)
@blp.alt_response(404, description=_GONE["description"])
@blp.alt_response(503, description=_UNAVAILABLE["description"])
def get_sweep(job_id):
    """A sweep's status, progress (done/total), results so far and aggregates over seeds; analyses once ended."""
    return _found(_call(jobs().status, job_id))


@blp.route("/<string:job_id>", methods=["DELETE"])
@blp.response(200, SweepStatus)
@blp.alt_response(404, description=_GONE["description"])
@blp.alt_response(503, description=_UNAVAILABLE["description"])
def delete_sweep(job_id):
    """Cancel a sweep: runs not yet finished are dropped (a run already computing ends unseen); results so far stay."""
    return _found(_call(jobs().cancel, job_id))


def _stream(events):
    yield b"retry: 2000\n\n"  # EventSource reconnects 2 s after a stream ends short of the job's end
    try:
        for name, data in events:
            yield f"event: {name}\ndata: ".encode() + dumps_bytes(data) + b"\n\n"
    except Unavailable as err:  # the scheduler went away mid-stream: say so, the client retries
        yield b"event: unavailable\ndata: " + dumps_bytes({"message": str(err)}) + b"\n\n"


@blp.route("/<string:job_id>/events", methods=["GET"])
@blp.response(200, content_type="text/event-stream")
@blp.alt_response(404, description=_GONE["description"])
@blp.alt_response(503, description=_UNAVAILABLE["description"])
@blp.doc(responses={"200": {
    "description": "Server-sent events: `progress` ({id, status, done, total}) whenever it changes, then `end` "
                   "(the same, with the final status) once the job ended. A stream lasts at most "
                   "DESCENTLAB_SWEEP_EVENTS_MAX_S seconds (a worker is not held longer); EventSource reconnects.",
    "content": {"text/event-stream": {"schema": {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": ["progress", "end", "unavailable"]},
            "data": {"type": "string", "contentMediaType": "application/json",
                     "description": "{id, status, done, total}"},
        },
    }}},
}})
def sweep_events(job_id):
    """Progress of a sweep as server-sent events (progress ..., end)."""
    store = jobs()
    _found(_call(store.progress, job_id))  # 404 / 503 before the stream starts
    events = store.events(job_id, current_app.config["SWEEP_EVENTS_MAX_S"])
    return Response(_stream(events), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
