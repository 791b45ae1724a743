"""The optimizer side of language-model training, in one place: weight decay on matrices only,
gradient clipping, and the learning-rate schedule.

Every use the language models make of ``engine.optimizers``, ``engine.schedules`` and
``engine.clipping`` is in this module.

Weight decay on matrices and embeddings only (nanoGPT's two parameter groups). The layout puts the
decayed blocks first (``engine.lm_layout``), so one step is two calls of the shared optimizer step on
two contiguous segments: ``params[:n_decay]`` with the optimizer as resolved, ``params[n_decay:]`` with
the same optimizer and ``weight_decay = 0``. Each segment keeps its own state, exactly as
``torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0}])``.
Optimizers without a ``weight_decay`` parameter use one resolved optimizer for both.

Clipping is over the whole gradient (torch ``clip_grad_norm_`` over all parameters) before the step.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import numpy as np

from .clipping import CLIP_NORM, CLIP_VALUE, clip_grad_norm, clip_grad_value, grad_norm, resolve_clip
from .errors import field_prefix
from .optimizers import OPTIMIZERS, new_state, optimizer_step, resolve_optimizer
from .schedules import schedule_values
from .validate import check_spec


class LMOptim(NamedTuple):
    """Everything one training step needs besides the parameters and the gradient."""

    code: int  # engine.optimizers code (same for both segments)
    hp_decay: np.ndarray  # hyperparameters of the decayed segment
    hp_plain: np.ndarray  # the same with weight_decay 0
    state_decay: np.ndarray  # optimizer state rows of params[:n_decay]
    scal_decay: np.ndarray
    state_plain: np.ndarray  # ... of params[n_decay:]
    scal_plain: np.ndarray
    n_decay: int
    clip_kind: int  # engine.clipping's CLIP_NONE, CLIP_NORM, CLIP_VALUE
    clip_arg: float


def lm_step(opt: LMOptim, params: np.ndarray, grad: np.ndarray, t: int, lr: float) -> None:
    """Clip ``grad`` in place, then one optimizer step (1-based ``t``, this step's ``lr``) on both segments.

    Python calls the shared kernels (already compiled, and cached, by their modules): a kernel wrapping
    them would compile ``optimizer_step``'s every optimizer again inside itself (~20 s of cold start)."""
    if opt.clip_kind == CLIP_NORM:
        clip_grad_norm(grad, opt.clip_arg)
    elif opt.clip_kind == CLIP_VALUE:
        clip_grad_value(grad, opt.clip_arg)
    n = opt.n_decay
    if n > 0:
        optimizer_step(opt.code, opt.hp_decay, params[:n], grad[:n], opt.state_decay, opt.scal_decay, t, lr)
    if n < params.shape[0]:
        optimizer_step(opt.code, opt.hp_plain, params[n:], grad[n:], opt.state_plain, opt.scal_plain, t, lr)


def lm_grad_norm(grad: np.ndarray) -> float:
    """‖grad‖₂ (before clipping)."""
    return float(grad_norm(grad))


def resolve_lm_optim(spec: Mapping[str, Any] | None, defaults: Mapping[str, Any], n_params: int, n_decay: int,
                     clip: Mapping[str, Any] | None) -> tuple[LMOptim, dict]:
    """(the kernels' record, the resolved optimizer to echo back) for ``spec`` (default AdamW); the
    model's ``defaults`` (lr, betas, weight_decay) fill what the request leaves out, where the named
    optimizer takes them."""
    spec = check_spec("optimizer", spec, "{'name': 'adamw'}") if spec is not None else {"name": "adamw"}
    spec.setdefault("name", "adamw")
    known = isinstance(spec["name"], str) and spec["name"] in OPTIMIZERS  # a bad name: resolve_optimizer says so
    takes = {p.name for p in OPTIMIZERS[spec["name"]].params} if known else set()
    for key, value in defaults.items():
        if key in takes and spec.get(key) is None:
            spec[key] = value
    opt = resolve_optimizer(spec)
    takes_wd = any(p.name == "weight_decay" for p in OPTIMIZERS[opt.name].params)
    plain = resolve_optimizer({**spec, "weight_decay": 0.0}) if takes_wd else opt
    sd, cd = new_state(opt, n_decay)
    sp, cp = new_state(plain, n_params - n_decay)
    kind, arg = resolve_clip(None if clip is None else dict(clip) if isinstance(clip, Mapping) else clip)
    echo = {"name": opt.name, **opt.params, "weight_decay_applies_to": "matrices and embeddings (params[:n_decay])"}
    if "betas" in echo:
        echo["betas"] = list(echo["betas"])
    return LMOptim(opt.code, opt.hp, plain.hp, sd, cd, sp, cp, int(n_decay), kind, arg), echo


def lm_lrs(schedule: Mapping[str, Any] | None, base_lr: float, steps: int) -> tuple[np.ndarray, dict]:
    """(lr[e] for e = 0..steps, the resolved schedule): step t uses lr[t − 1]; lr[steps] is what a
    further step would use (the last evaluation's record). Default: warmup_cosine with
    warmup_steps = steps // 10 over the run's steps."""
    if schedule is None:
        schedule = {"name": "warmup_cosine", "warmup_steps": steps // 10}
    sched = check_spec("schedule", schedule, "{'name': 'warmup_cosine'}")
    if sched.get("name") in ("warmup_cosine", "onecycle") and sched.get("total_steps") is None:
        sched["total_steps"] = steps
    if sched.get("name") == "cosine" and sched.get("T_max") is None:
        sched["T_max"] = steps
    with field_prefix("schedule"):
        sv = schedule_values(sched, base_lr, steps + 1)
    return sv.lr, {"name": sv.name, **sv.params}

