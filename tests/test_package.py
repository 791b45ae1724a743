"""The engine package as a Python user meets it: importable without Flask, every concept module
reachable by its name, every public name real."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parent.parent
MODULE_NAMES = sorted(p.stem for p in (ROOT / "engine").glob("*.py") if p.stem != "__init__")


def test_every_concept_module_is_reachable_by_its_name():
    # a re-exported function named like its module (engine.backprop = the function) would hide
    # the module from `import engine.x as m` and from attribute access after `import engine`
    for name in MODULE_NAMES:
        module = importlib.import_module(f"engine.{name}")
        assert getattr(engine, name, module) is module, f"engine.{name} is shadowed by {getattr(engine, name)!r}"


def test_all_lists_only_real_public_names():
    assert len(engine.__all__) == len(set(engine.__all__))
    for name in engine.__all__:
        obj = getattr(engine, name)
        assert not isinstance(obj, types.ModuleType), name
        assert not name.startswith("_"), name


def test_engine_imports_and_computes_without_flask():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('flask', 'flask_smorest', 'flask_cors', 'marshmallow', 'service'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import engine\n"
        "print(round(engine.evaluate_loss('mse', [0.7, 0.2, 0.1], [1, 0, 0]).value, 6))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'marshmallow', 'service')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["0.046667", "[]"]
