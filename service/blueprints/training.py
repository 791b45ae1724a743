"""Training: datasets, runs (one-shot and streamed), regularization comparisons, the convergence doctor."""

from __future__ import annotations

from flask_smorest import Blueprint

from engine import datasets, doctor, regularization, training

from ..cache import uncached
from ..schemas.training import (
    CompareRequest, CompareResponse, DatasetResponse, DatasetSchema, DiagnoseRequest, DiagnoseResponse,
    RunRequest, RunResponse,
)
from ..sse import event_stream, event_stream_doc

blp = Blueprint(
    "training",
    __name__,
    url_prefix="/api/v1/training",
    description="Train small networks on synthetic data; compare regularizers; diagnose loss curves",
)

_RUN_DUMP = RunResponse()


@blp.route("/dataset", methods=["POST"])
@blp.arguments(DatasetSchema)
@blp.response(200, DatasetResponse)
def dataset(body):
    """The points of a synthetic dataset (both splits), as a training run would use them."""
    name = body.pop("name")
    return datasets.generate(name, body)


@blp.route("/run", methods=["POST"])
@blp.arguments(RunRequest)
@blp.response(200, RunResponse)
def run(body):
    """Train an MLP: per-epoch history (columnar), best/stopped epoch, stop reason, the drawn prediction."""
    return training.train(**body)


@blp.route("/compare", methods=["POST"])
@blp.arguments(CompareRequest)
@blp.response(200, CompareResponse)
def compare(body):
    """Train regularization variants side by side (same data, initial weights and batches), with their gaps."""
    return regularization.compare(**body)


@blp.route("/stream", methods=["POST"])
@blp.arguments(RunRequest)
@blp.response(200, content_type="text/event-stream")
@blp.doc(**event_stream_doc(
    "epoch", "Server-sent events: one `epoch` event per epoch (that epoch's record, JSON), then `summary` "
             "(the /run response). Epochs computed within ~20 ms of each other are written together (every one "
             "still its own event, in order): read the body as a stream of events, not one per network read. "
             "Disconnecting stops the training after the epochs already sent.",
    "epoch: {epoch, train_loss, val_loss, ...}; summary: the /run response"))
@uncached("a stream: each epoch is sent as it completes")
def stream(body):
    """The /run training streamed epoch by epoch (text/event-stream); same numbers as /run."""
    # epochs come back to back (10,000 in ~0.5 s for the edge-of-stability preset): sent in batches
    return event_stream(training.stream(**body), "epoch", _RUN_DUMP.dump, coalesce=True)  # validates first: a 422


@blp.route("/diagnose", methods=["POST"])
@blp.arguments(DiagnoseRequest)
@blp.response(200, DiagnoseResponse)
def diagnose(body):
    """Diagnose loss curves (diverging, exploding, plateau, noisy, overfitting, underfitting, converged)."""
    return doctor.diagnose(body["train_loss"], body.get("val_loss"))
