"""Language models: corpora, training runs (one-shot and streamed), looking inside a trained model."""

from __future__ import annotations

from flask_smorest import Blueprint

from engine.corpora import corpus_summary, make_corpus
from engine.lm_inspect import inspect_lm
from engine.lm_train import lm_stream, train_lm

from ..cache import uncached
from ..schemas.lm import (
    LMDatasetRequest, LMDatasetResponse, LMInspectRequest, LMInspectResponse, LMTrainRequest, LMTrainResponse,
)
from ..sse import event_stream, event_stream_doc

blp = Blueprint(
    "lm",
    __name__,
    url_prefix="/api/v1/lm",
    description="Character-level language models (bigram, MLP, GPT) trained live by next-token cross-entropy",
)

_TRAIN_DUMP = LMTrainResponse()


@blp.route("/datasets", methods=["POST"])
@blp.arguments(LMDatasetRequest)
@blp.response(200, LMDatasetResponse)
def datasets(body):
    """A corpus: vocabulary, sizes, split, exact floor where known, count baselines, example lines."""
    return corpus_summary(make_corpus(body["corpus"]))


@blp.route("/train", methods=["POST"])
@blp.arguments(LMTrainRequest)
@blp.response(200, LMTrainResponse)
def train(body):
    """Train a language model: evaluations (losses, lr, gradient norms, samples), floor and baselines."""
    return train_lm(**body)


@blp.route("/stream", methods=["POST"])
@blp.arguments(LMTrainRequest)
@blp.response(200, content_type="text/event-stream")
@blp.doc(**event_stream_doc(
    "eval", "Server-sent events: one `eval` event per evaluation (step, train_loss, val_loss, lr, grad_norm, "
            "block_grad_norm, sample, tokens), then `summary` (the /lm/train response). Disconnecting stops the "
            "training.",
    "eval: one evaluation's record; summary: the /lm/train response"))
@uncached("a stream: each evaluation is sent as it completes")
def stream(body):
    """The /lm/train run streamed evaluation by evaluation (text/event-stream); same numbers as /lm/train."""
    return event_stream(lm_stream(**body), "eval", _TRAIN_DUMP.dump)  # lm_stream validates first: a 422


@blp.route("/inspect", methods=["POST"])
@blp.arguments(LMInspectRequest)
@blp.response(200, LMInspectResponse)
def inspect(body):
    """Per prompt position: top-k next tokens, p and loss of the actual next token; attention weights (gpt)."""
    return inspect_lm(**body)
