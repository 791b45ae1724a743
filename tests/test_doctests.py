"""The runnable examples in the engine's docstrings run, and give what they say.

Every engine module's docstring examples are collected and run by doctest (ELLIPSIS and whitespace
normalisation on, so an example may print ``0.123...``). The main entry points must each carry one.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import engine

MODULES = sorted(m.name for m in pkgutil.iter_modules(engine.__path__, "engine.") if not m.name.startswith("engine._"))

# The functions a new user reaches for first: each shows a call and its result.
MAIN = ("evaluate_loss", "run_trajectory", "run_race", "landscape_grid", "make_dataset", "train", "compare",
        "train_stream", "run_backprop", "train_lm", "run_network_hessian", "sweep", "Optimizer")

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("module", ["engine", *MODULES])
def test_examples_run(module):
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(mod, module, globs={"engine": engine, "np": __import__("numpy")}):
        if test.examples and (test.name == module or test.name.startswith(module + ".")):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{module}: {result.failed} of {result.attempted} doctest examples failed"


@pytest.mark.parametrize("name", MAIN)
def test_main_functions_have_an_example(name):
    doc = getattr(engine, name).__doc__ or ""
    assert ">>> " in doc, f"engine.{name} has no runnable example in its docstring"
