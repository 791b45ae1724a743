"""Schemas of /api/v1/lm: corpora, training runs (one-shot and streamed), looking inside a model.

Corpus and model objects carry a ``name`` plus the parameters that name takes (the catalog's
``lm_corpora`` and ``lm_models`` list them with defaults and ranges). Parameters only some names
take are typed here without ranges; the engine checks each against the named entry and refuses one
that entry does not take, with a 422 naming ``corpus.<param>`` or ``model.<param>``.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate, validates_schema

from engine.corpora import CORPORA
from engine.limits import LIMITS
from engine.lm_models import LM_MODELS
from engine.lm_train import RUN_PARAMS, SAMPLING_PARAMS

from ..fields import FiniteFloat, NumberArray, limit_range
from .common import ClipSchema, OptimizerSchema, ScheduleSchema, refuse_foreign, registry_schema

_RUN = {p.name: p for p in RUN_PARAMS}
_B64_MAX = 4 * -(-8 * LIMITS["max_lm_parameters"] // 3)  # base64 characters of the largest parameter vector
_SAMPLING = {p.name: p for p in SAMPLING_PARAMS}


def _int_field(p, limit: str | None, **kw):
    """An integer field with the registry's range, its error naming ``limit`` when one bounds it."""
    rng = limit_range(limit, p.low, p.high) if limit else validate.Range(p.low, p.high)
    return fields.Integer(strict=True, validate=rng, metadata={"description": f"{p.doc}; default {p.default}"}, **kw)


class LMCorpusSchema(registry_schema("LMCorpusBase", CORPORA, "corpus", bound_shared_only=True,
                                     params=lambda c: tuple(q for q in c.params if q.kind != "string"))):
    """A corpus: ``{"name": "names"}``, ``{"name": "markov", "alphabet": 8, "order": 1, "seed": 0}``,
    ``{"name": "reverse"}``, ``{"name": "sort"}`` or ``{"name": "text", "text": "..."}``; the other
    parameters generated from ``engine.corpora.CORPORA`` (ranges: the engine's, per corpus)."""

    text = fields.String(validate=validate.Length(max=LIMITS["max_lm_text_chars"],
                                                  error="at most {max} characters (limit max_lm_text_chars)"),
                         metadata={"description": "text only: the UTF-8 text to train on (limit max_lm_text_chars)"})

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        refuse_foreign(CORPORA, data, "corpus")


class LMModelSchema(registry_schema("LMModelBase", LM_MODELS, "model", bound_shared_only=True,
                                    limits={k: v for m in LM_MODELS.values() for k, v in m.limits.items()})):
    """A model: ``{"name": "gpt", "n_layer": 2, "n_head": 4, "d_model": 32, "block_size": 16}``,
    ``{"name": "bigram"}`` or ``{"name": "mlp", "context": 3, "embedding": 10, "hidden": 128}``; parameters
    generated from ``engine.lm_models.LM_MODELS`` (n_head must divide d_model: the engine's check)."""

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        refuse_foreign(LM_MODELS, data, "model")


class LMParametersIn(Schema):
    """A parameter blob as a run returned it."""

    data = fields.String(required=True, validate=validate.Length(
        max=_B64_MAX, error="at most {max} characters: the base64 of max_lm_parameters float64 values "
                            "(limit max_lm_parameters)"),
        metadata={"description": "base64 of the little-endian float64 parameter vector (the request body's own "
                                 "limit, max_body_bytes, applies too)"})
    layout = fields.List(fields.Dict(), metadata={"description": "optional: the layout returned with it, checked "
                                                                 "against the model's"})
    n_params = fields.Integer(metadata={"description": "ignored (informational)"})
    dtype = fields.String(metadata={"description": "ignored (always float64)"})
    byteorder = fields.String(metadata={"description": "ignored (always little)"})
    encoding = fields.String(metadata={"description": "ignored (always base64)"})


class LMSamplingSchema(Schema):
    length = _int_field(_SAMPLING["length"], "max_lm_sample_chars")
    temperature = FiniteFloat(validate=validate.Range(0.0, 10.0),
                              metadata={"description": "softmax(logits/temperature); 0 is greedy; default 1"})
    top_k = _int_field(_SAMPLING["top_k"], "max_lm_vocab")
    prompt = fields.String(validate=validate.Length(min=1, max=LIMITS["max_lm_prompt_chars"],
                                                    error="between {min} and {max} characters "
                                                          "(limit max_lm_prompt_chars)"),
                           metadata={"description": "what samples start from; default the corpus's "
                                                    "(a newline for line corpora)"})


class LMDatasetRequest(Schema):
    corpus = fields.Nested(LMCorpusSchema, required=True, metadata={"description": "the corpus to describe"})


class LMTrainRequest(Schema):
    """One language-model training run (also the body of /lm/stream)."""

    corpus = fields.Nested(LMCorpusSchema, required=True, metadata={"description": "what to train on"})
    model = fields.Nested(LMModelSchema, required=True, metadata={"description": "what to train"})
    optimizer = fields.Nested(OptimizerSchema, metadata={
        "description": "default AdamW with the model's default lr (catalog lm_training.model_defaults); weight "
                       "decay applies to matrices and embeddings only"})
    schedule = fields.Nested(ScheduleSchema, metadata={
        "description": "stepped once per step; default warmup_cosine with warmup_steps = steps // 10"})
    clip = fields.Nested(ClipSchema, allow_none=True, metadata={
        "description": "gradient clipping before each step; default {max_norm: 1.0}; null for none"})
    steps = _int_field(_RUN["steps"], "max_lm_steps")
    batch_size = _int_field(_RUN["batch_size"], "max_lm_batch")
    eval_every = _int_field(_RUN["eval_every"], "max_lm_steps")
    eval_tokens = _int_field(_RUN["eval_tokens"], "max_lm_eval_tokens")
    seed = _int_field(_RUN["seed"], None)
    sampling = fields.Nested(LMSamplingSchema, metadata={"description": "the sample generated at each evaluation"})
    return_parameters = fields.Boolean(metadata={"description": "return the trained parameters (base64); "
                                                                "default false"})
    parameters = fields.Nested(LMParametersIn, metadata={"description": "start from these parameters instead of the "
                                                                      "initialisation"})


class LMInspectRequest(Schema):
    corpus = fields.Nested(LMCorpusSchema, required=True, metadata={"description": "the corpus the model was "
                                                                                 "trained on (its vocabulary)"})
    model = fields.Nested(LMModelSchema, required=True, metadata={"description": "the model's settings"})
    parameters = fields.Nested(LMParametersIn, metadata={"description": "the trained parameters; omitted: the "
                                                                      "initialisation for seed"})
    prompt = fields.String(required=True, validate=validate.Length(min=1, max=LIMITS["max_lm_prompt_chars"],
                                                                   error="between {min} and {max} characters "
                                                                         "(limit max_lm_prompt_chars)"),
                           metadata={"description": "the text to read (a gpt: at most block_size tokens)"})
    top_k = fields.Integer(strict=True, validate=limit_range("max_lm_vocab", 1, LIMITS["max_lm_vocab"]),
                           metadata={"description": "most likely next tokens listed per position; default 5"})
    seed = fields.Integer(strict=True, validate=validate.Range(0, 2**32 - 1),
                          metadata={"description": "seed of the initialisation used without parameters; default 0"})


# -- responses ----------------------------------------------------------------------------------
class LMBaselinesSchema(Schema):
    uniform = fields.Float(metadata={"description": "ln V: the loss of a uniform guess"})
    unigram = fields.Float(metadata={"description": "validation loss of token frequencies (add-one smoothing)"})
    bigram = fields.Float(metadata={"description": "validation loss of bigram counts (add-one smoothing)"})
    train_mle = fields.Dict(metadata={"description": "unigram and bigram count models' unsmoothed loss on the "
                                                     "training split (the bigram table's optimum)"})
    smoothing = fields.String(metadata={"description": "how the count models were smoothed"})


class LMDatasetResponse(Schema):
    name = fields.String(metadata={"description": "the corpus"})
    params = fields.Dict(metadata={"description": "its resolved parameters"})
    vocab = fields.List(fields.String(), metadata={"description": "token id -> string (characters; '<0xNN>' for "
                                                                  "byte-fallback tokens)"})
    tokenizer = fields.Dict(metadata={"description": "the tokenizer: kind, size, byte tokens, order"})
    train_tokens = fields.Integer(metadata={"description": "tokens in the training stream"})
    val_tokens = fields.Integer(metadata={"description": "tokens in the validation stream"})
    train_targets = fields.Integer(metadata={"description": "training positions the loss counts"})
    val_targets = fields.Integer(metadata={"description": "validation positions the loss counts"})
    doc_len = fields.Integer(metadata={"description": "tokens per document when windows span one (reverse, sort); "
                                                      "0 for one stream"})
    floor = fields.Float(allow_none=True, metadata={"description": "exact expected loss floor in nats (markov: "
                                                                   "the entropy rate; reverse/sort: 0); null if "
                                                                   "unknown"})
    floor_by_context = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "markov: the best loss with j letters of context, j = 0..order"})
    floor_sample = fields.Float(allow_none=True, metadata={"description": "markov: the source's own loss on the "
                                                                          "validation stream"})
    floor_se = fields.Float(allow_none=True, metadata={"description": "markov: standard error of floor_sample"})
    baselines = fields.Nested(LMBaselinesSchema, metadata={"description": "count-model baselines"})
    split = fields.String(metadata={"description": "how training and validation were made"})
    examples = fields.List(fields.String(), metadata={"description": "a few training lines"})
    sample_prompt = fields.String(metadata={"description": "what generated samples start from by default"})


class LMHistorySchema(Schema):
    step = NumberArray(item_type="integer", metadata={"description": "the step of each evaluation (0 = before "
                                                                    "training)"})
    train_loss = NumberArray(metadata={"description": "loss on the fixed training sample"})
    val_loss = NumberArray(metadata={"description": "loss on the fixed validation sample"})
    lr = NumberArray(metadata={"description": "the learning rate the next step uses"})
    grad_norm = NumberArray(metadata={"description": "2-norm of the mini-batch gradient at these parameters, "
                                                     "before clipping"})
    block_grad_norm = fields.Dict(keys=fields.String(), values=NumberArray(), metadata={
        "description": "the same per parameter block (layout name -> one value per evaluation)"})
    tokens = NumberArray(item_type="integer", metadata={"description": "training positions seen by then"})


class LMSampleSchema(Schema):
    step = fields.Integer(metadata={"description": "the evaluation's step"})
    text = fields.String(metadata={"description": "text generated from the sampling prompt"})


class LMBlockSchema(Schema):
    name = fields.String(metadata={"description": "the parameter block"})
    shape = fields.List(fields.Integer(), metadata={"description": "its shape (matrices [inputs, outputs])"})
    offset = fields.Integer(metadata={"description": "its first index in the flat vector"})
    decay = fields.Boolean(metadata={"description": "whether weight decay applies"})


class LMParametersOut(Schema):
    layout = fields.List(fields.Nested(LMBlockSchema), metadata={"description": "the blocks in vector order"})
    data = fields.String(metadata={"description": "base64 of the little-endian float64 vector"})
    n_params = fields.Integer(metadata={"description": "entries in the vector"})
    dtype = fields.String(metadata={"description": "float64"})
    byteorder = fields.String(metadata={"description": "little"})
    encoding = fields.String(metadata={"description": "base64 (RFC 4648, padded)"})


class LMTrainResponse(Schema):
    vocab = fields.List(fields.String(), metadata={"description": "token id -> string"})
    floor = fields.Float(allow_none=True, metadata={"description": "the corpus's exact loss floor (nats); null if "
                                                                   "unknown"})
    floor_window = fields.Float(allow_none=True, metadata={"description": "the exact floor for windows of the run's "
                                                                          "length (early positions see less)"})
    baselines = fields.Nested(LMBaselinesSchema, metadata={"description": "uniform, unigram and bigram baselines"})
    history = fields.Nested(LMHistorySchema, metadata={"description": "one entry per evaluation"})
    samples = fields.List(fields.Nested(LMSampleSchema), metadata={"description": "one generated sample per "
                                                                                "evaluation"})
    batch_loss = NumberArray(metadata={"description": "the mini-batch loss of every step"})
    status = fields.String(metadata={"enum": ["completed", "diverged"],
                                     "description": "diverged: a loss or gradient stopped being finite"})
    steps_run = fields.Integer(metadata={"description": "steps completed"})
    final_train_loss = fields.Float(allow_none=True, metadata={"description": "the last evaluation's train loss"})
    final_val_loss = fields.Float(allow_none=True, metadata={"description": "the last evaluation's val loss"})
    n_params = fields.Integer(metadata={"description": "parameters of the model"})
    layout = fields.List(fields.Nested(LMBlockSchema), metadata={"description": "where each block lives in the "
                                                                              "parameter vector"})
    parameters = fields.Nested(LMParametersOut, allow_none=True, metadata={
        "description": "the trained parameters when return_parameters was true"})
    corpus = fields.Dict(metadata={"description": "the corpus: parameters, sizes, split, floor sample"})
    settings = fields.Dict(metadata={"description": "the resolved request"})
    elapsed_s = fields.Float(metadata={"description": "seconds spent computing"})
    tokens_per_s = fields.Float(metadata={"description": "training positions per second"})


class LMTopSchema(Schema):
    token = fields.String(metadata={"description": "a next token"})
    id = fields.Integer(metadata={"description": "its id"})
    p = fields.Float(metadata={"description": "its probability"})


class LMPositionSchema(Schema):
    position = fields.Integer(metadata={"description": "index in the prompt"})
    token = fields.String(metadata={"description": "the token at this position"})
    next = fields.String(allow_none=True, metadata={"description": "the prompt's next token; null at the end"})
    p_next = fields.Float(allow_none=True, metadata={"description": "the model's probability of that next token"})
    loss = fields.Float(allow_none=True, metadata={"description": "-ln p_next (nats)"})
    top = fields.List(fields.Nested(LMTopSchema), metadata={"description": "the top_k most likely next tokens"})


class LMInspectResponse(Schema):
    tokens = fields.List(fields.String(), metadata={"description": "the prompt's tokens"})
    positions = fields.List(fields.Nested(LMPositionSchema), metadata={"description": "one entry per position"})
    probs = NumberArray(ndim=2, metadata={"description": "[position][token]: the whole next-token distribution"})
    attention = NumberArray(ndim=4, allow_none=True, metadata={
        "description": "[layer][head][query][key] attention weights (gpt; null otherwise)"})
    mean_loss = fields.Float(allow_none=True, metadata={"description": "mean loss over positions with a next token"})
    vocab = fields.List(fields.String(), metadata={"description": "token id -> string"})
    model = fields.Dict(metadata={"description": "the resolved model settings"})
