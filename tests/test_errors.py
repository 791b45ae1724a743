"""engine.errors: a callee's refusal re-rooted under the caller's field name."""

from __future__ import annotations

import pytest

from engine.errors import EngineInputError, field_prefix
from engine.optimizers import resolve_optimizer
from engine.schedules import lr_per_step


@pytest.mark.parametrize("field,prefix,strip,want", [
    ("optimizer.lr", "optimizers.2", "optimizer", "optimizers.2.lr"),  # the callee's root replaced
    ("optimizer", "optimizers.2", "optimizer", "optimizers.2"),
    ("layers", "model", None, "model.layers"),  # put under the prefix
    ("model.layers", "model", None, "model.layers"),  # already there: kept
    ("params.delta", "", "params", "delta"),  # to the top level
    ("modelx", "model", None, "model.modelx"),  # a prefix of the name is not its root
])
def test_rerooted(field, prefix, strip, want):
    err = EngineInputError(field, "bad").rerooted(prefix, strip)
    assert (err.field, err.message) == (want, "bad")


def test_field_prefix_reroots_only_the_named_roots():
    with pytest.raises(EngineInputError) as e:
        with field_prefix("variants.1", only=("regularization",)):
            raise EngineInputError("regularization.l1", "must be >= 0")
    assert e.value.field == "variants.1.regularization.l1"
    with pytest.raises(EngineInputError) as e:
        with field_prefix("variants.1", only=("regularization",)):
            raise EngineInputError("epochs", "must be >= 1")
    assert e.value.field == "epochs"


def test_callers_name_their_own_fields():
    with pytest.raises(EngineInputError) as e:
        resolve_optimizer({"name": "adam", "lr": -1}, "optimizers.3")
    assert e.value.field == "optimizers.3.lr"
    with pytest.raises(EngineInputError) as e:
        lr_per_step({"name": "cosine", "T_max": 0}, 0.1, 10, "optimizers.0.schedule")
    assert e.value.field == "optimizers.0.schedule.T_max"
