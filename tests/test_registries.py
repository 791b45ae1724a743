"""One registry per concept, read by everything: every entry reaches the catalog, the request schemas'
enums and the warm-up; the concept index is what the catalog, the warm-up and ``engine`` read; no
engine module reaches into another's private names or imports inside a function."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from marshmallow import validate

import engine
from engine import concepts, warmup
from engine.activations import ACTIVATIONS
from engine.clipping import CLIP_KEYS
from engine.datasets import DATASETS
from engine.init import INITS
from engine.losses import LOSSES, PARAMS
from engine.network_landscape import LANDSCAPE_DATASETS
from engine.optimizers import OPTIMIZERS
from engine.regularization import REGULARIZERS
from engine.schedules import SCHEDULES
from engine.surfaces import SURFACES
from engine.sweep_kinds import KINDS
from engine.tasks import all_fitting_losses
from engine.user_data import USER_DATASETS
from service.blueprints.catalog import CatalogSchema
from service.schemas import common, losses, networks, sweeps, training

ENGINE = Path(engine.__file__).parent


def _choices(schema_cls, name: str) -> list:
    f = schema_cls().fields[name]
    f = getattr(f, "inner", f)  # a List of names
    f = getattr(f, "name_field", f)  # a name or a formula (common.SurfaceField)
    return sorted(next(v.choices for v in f.validators if isinstance(v, validate.OneOf)))


def _names(section: str) -> list[str]:
    return [e["name"] for e in engine.build_catalog()[section]]


# registry, its catalog section, and the request-schema enums that must list exactly its names
REGISTRIES = [
    ("losses", LOSSES, "losses", [(losses.EvaluateRequest, "loss"), (losses.CurvesRequest, "losses"),
                                  (networks.BackpropRequest, "loss"), (networks.LandscapeRequest, "loss")]),
    ("surfaces", SURFACES, "surfaces", [(common.SurfaceRequest, "surface")]),
    ("optimizers", OPTIMIZERS, "optimizers", [(common.OptimizerSchema, "name")]),
    ("schedules", SCHEDULES, "schedules", [(common.ScheduleSchema, "name")]),
    ("activations", ACTIVATIONS, "activations", [(training.ModelSchema, "activation"),
                                                 (training.ModelSchema, "output_activation"),
                                                 (networks.ProfileRequest, "activation")]),
    ("initializations", INITS, "initializations", [(common.InitSchema, "name")]),
    # the section lists the synthetic datasets, then the user's own kinds; each schema takes its own names
    ("datasets", {**DATASETS, **USER_DATASETS}, "datasets", []),
    ("synthetic datasets", DATASETS, "datasets", [(training.DatasetSchema, "name")]),
    ("user data", USER_DATASETS, "datasets", [(training.UserDatasetSchema, "name")]),
    ("regularizers", REGULARIZERS, "regularizers", []),
    ("clipping", CLIP_KEYS, "clipping", []),
    ("sweeps", KINDS, "sweeps", [(sweeps.SweepSubmit, "kind")]),
]


@pytest.mark.parametrize("key,registry,section,enums", REGISTRIES, ids=[r[0] for r in REGISTRIES])
def test_every_registry_entry_reaches_the_catalog_and_the_schemas(key, registry, section, enums):
    assert [n for n in _names(section) if n in registry] == list(registry)
    assert key in ("synthetic datasets", "user data") or _names(section) == list(registry)
    for schema_cls, name in enums:
        assert _choices(schema_cls, name) == sorted(registry), f"{schema_cls.__name__}.{name}"


def test_parameter_schemas_take_every_registry_parameter():
    for schema_cls, registry in ((common.OptimizerSchema, OPTIMIZERS), (common.ScheduleSchema, SCHEDULES),
                                 (common.InitSchema, INITS)):
        declared = set(schema_cls().fields)
        assert {p.name for spec in registry.values() for p in spec.params} <= declared, schema_cls.__name__
    assert set(common.LossParamsSchema().fields) == set(PARAMS)
    assert set(common.ClipSchema().fields) == set(CLIP_KEYS)
    assert _choices(training.RunRequest, "loss") == sorted(all_fitting_losses())
    assert _choices(networks.LandscapeDatasetSchema, "name") == sorted(LANDSCAPE_DATASETS)
    assert [d["name"] for d in engine.build_catalog()["network_landscape"][0]["datasets"]] == list(LANDSCAPE_DATASETS)


class _Recording(dict):
    """A registry that remembers which entries were read (by name or by iterating it)."""

    def __init__(self, d):
        super().__init__(d)
        self.seen = set()

    def __getitem__(self, k):
        self.seen.add(k)
        return super().__getitem__(k)

    def get(self, k, default=None):
        if k in self:
            self.seen.add(k)
        return super().get(k, default)

    def __iter__(self):
        self.seen.update(self.keys())
        return super().__iter__()

    def values(self):
        self.seen.update(self.keys())
        return super().values()

    def items(self):
        self.seen.update(self.keys())
        return super().items()


# module and registry name: the module's warm-up must go through every entry (REGULARIZERS is a menu of
# settings, not something resolved by name, and has no warm-up of its own to check)
WARMED = [("engine.losses", "LOSSES"), ("engine.surfaces", "SURFACES"), ("engine.optimizers", "OPTIMIZERS"),
          ("engine.schedules", "SCHEDULES"), ("engine.activations", "ACTIVATIONS"), ("engine.init", "INITS"),
          ("engine.datasets", "DATASETS"), ("engine.clipping", "CLIP_KEYS"),
          ("engine.sweep_kinds", "KINDS")]


@pytest.mark.parametrize("module,name", WARMED, ids=[n for _, n in WARMED])
def test_every_registry_entry_is_warmed(module, name, monkeypatch):
    mod = importlib.import_module(module)
    rec = _Recording(getattr(mod, name))
    monkeypatch.setattr(mod, name, rec)
    assert module in warmup.MODULES
    mod._warmup()
    assert rec.seen == set(rec), f"{module}._warmup() skips {sorted(set(rec) - rec.seen)}"


def test_the_concept_index_is_what_the_catalog_the_warmup_and_engine_read():
    assert warmup.MODULES == concepts.MODULES
    grouped = [m for modules, _ in warmup.GROUPS for m in modules]
    assert sorted(grouped) == sorted(set(grouped)) == sorted(concepts.MODULES), "place every module in one group"
    catalog = engine.build_catalog()
    assert set(catalog) == {s.key for s in concepts.SECTIONS} | {"limits", "presets"}
    assert set(CatalogSchema().fields) == set(catalog)
    for name in concepts.MODULES:
        mod = importlib.import_module(name)
        assert callable(mod._warmup) and isinstance(mod.__all__, list), name
        assert mod.__all__ or name in concepts.SUPPORT, f"{name} re-exports nothing"
        for public in mod.__all__:
            assert getattr(engine, public) is getattr(mod, public), f"engine.{public}"
    for name in concepts.CONCEPT_MODULES:
        for e in importlib.import_module(name).describe():  # one entry shape everywhere
            assert isinstance(e["name"], str) and isinstance(e["title"], str) and isinstance(e["parameters"], list), e
            for p in e["parameters"]:
                assert {"name", "default", "low", "high", "kind", "doc"} <= set(p), (name, e["name"])


def _engine_trees():
    for path in sorted(ENGINE.glob("*.py")):
        yield path.name, ast.parse(path.read_text())


def test_no_engine_module_imports_another_modules_private_names():
    for fname, tree in _engine_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module not in (None, "_jit", "_kernel_cache"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{fname} imports {private} from .{node.module}"


def test_no_function_level_imports_of_engine_modules():
    """A cycle is broken by moving the shared core into a module of its own, not by importing late."""
    for fname, tree in _engine_trees():
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.level >= 1:
                    pytest.fail(f"{fname}: {fn.name} imports .{node.module} inside the function")
