# One entry point for people and CI. Everything runs inside .venv, built from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# One compiled-kernel cache for every target (the server's default too), so the kernels `make test`
# compiled are the ones `make serve` loads. An explicit NUMBA_CACHE_DIR wins.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: venv serve dev test bench loadtest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,load]'
	touch $(STAMP)

venv: $(STAMP)

# Production server: gunicorn with the app preloaded and every kernel warmed before traffic, plus a
# local Dask scheduler and one sweep worker per core (service/launch.py; DESCENTLAB_DASK_SCHEDULER=
# tcp://host:8786 uses an existing cluster instead). Ctrl-C stops them all.
serve: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m service.launch

# Flask's debug server, for working on the service.
dev: $(STAMP)
	$(BIN)/flask --app 'service:create_app()' run --host $(HOST) --port $(PORT)

# The warm-up first compiles every kernel on all cores at once (a fresh clone's cache is empty;
# the tests would compile them one by one), then the tests load them: ~1 s when already warm.
# progress=True: module by module with the time left (a bar on a terminal, lines in CI logs).
test: $(STAMP)
	$(BIN)/python -c "import engine; engine.warm_kernels(progress=True)"
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# gunicorn on a free 127.0.0.1 port + Locust headless ([tool.locust]); fails on errors or slow p95s.
loadtest: $(STAMP)
	$(BIN)/python loadtests/run.py

clean:
	rm -rf $(VENV) .pytest_cache .numba_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
