"""The engine package as a Python user meets it: importable without Flask, every concept module
reachable by its name, every public name real."""

from __future__ import annotations

import importlib
import json
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


def test_version_is_the_package_metadata_version():
    import tomllib
    from importlib import metadata

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert engine.__version__ == declared == metadata.version("descentlab")


def test_built_wheel_ships_py_typed(tmp_path):
    # the wheel a user installs (not the source tree) must carry the PEP 561 marker
    import zipfile

    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    wheel, = tmp_path.glob("descentlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/py.typed" in names
    assert "engine/results.py" in names and "engine/catalog.py" not in names


def test_catalog_is_a_function_and_the_services_catalog():
    import flask  # noqa: F401  (the service half of the comparison)
    from service.app import create_app
    from service.config import TestConfig

    assert callable(engine.catalog) and engine.build_catalog is engine.catalog
    ours = engine.catalog()
    assert {"losses", "optimizers", "limits", "presets"} <= set(ours)
    client = create_app(TestConfig).test_client()
    got = client.get("/api/v1/catalog")
    assert got.status_code == 200
    assert got.get_json() == json.loads(json.dumps(ours))


def test_help_engine_is_a_page_that_names_every_concept_module():
    import pydoc

    from engine.concepts import MODULES, SECTIONS

    text = pydoc.render_doc(engine, renderer=pydoc.plaintext)
    lines = text.splitlines()
    assert len(lines) < 200, len(lines)
    for module in MODULES:
        assert module in text, module
    for s in SECTIONS:
        assert s.key in text, s.key
    assert "catalog()" in text and "warm_kernels" in text
    # the short page hides nothing from code: every public name is still importable and in __all__
    namespace: dict = {}
    exec("from engine import *", namespace)
    assert set(engine.__all__) <= set(namespace)
    assert all(getattr(engine, n) is namespace[n] for n in engine.__all__)
