"""Learning-rate schedules: the per-step values torch.optim.lr_scheduler would give."""

from __future__ import annotations

from flask_smorest import Blueprint

from engine import schedules

from ..schemas.schedules import ScheduleRequest, ScheduleResponse

blp = Blueprint(
    "schedules",
    __name__,
    url_prefix="/api/v1/schedules",
    description="Learning-rate schedules evaluated step by step (torch.optim.lr_scheduler semantics)",
)


@blp.route("", methods=["POST"])
@blp.arguments(ScheduleRequest)
@blp.response(200, ScheduleResponse)
def evaluate(body):
    """A schedule's learning rate at every step e = 0..steps-1 (step t of the optimizer uses lr[t-1])."""
    res = schedules.schedule_values(body["schedule"], body["base_lr"], body["steps"])
    return {"lr": res.lr, "schedule": {"name": res.name, **res.params}}
