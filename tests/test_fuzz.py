"""Property-based fuzzing of every operation in the generated ``/openapi.json`` (schemathesis).

The in-process app is driven through WSGI (no server). For each operation schemathesis
generates valid and invalid requests from the OpenAPI document and checks that

* no response is a 5xx (``not_a_server_error``),
* every response's status is one the operation documents, with the documented content
  type, and a body that conforms to the documented schema (200 bodies and the shared error
  shape ``{"code","status","message","errors"}`` alike),
* schema-invalid requests are refused with a 4xx (``negative_data_rejection``).

Schema-valid requests may still be refused by an engine limit (a work budget spans several
fields), so "valid data is accepted" is not asserted here; ``test_limits.py`` covers that.

Bounded and deterministic for CI: ``FUZZ_EXAMPLES`` examples per operation (default 25),
derandomized (the seed is derived from each test), no deadline (the first call of a kernel
compiles it), no example database. ``FUZZ_EXAMPLES=500 pytest tests/test_fuzz.py`` digs deeper.
Schemathesis also sends boundary values (its coverage phase), i.e. requests at every limit at
once; so that those stay cheap, the work budgets (``LIMITS["max_*_work"]``, read by the engine
at call time) are scaled by ``FUZZ_WORK_SCALE`` (default 0.01) while fuzzing: over-budget
requests still get their 422, and the response schemas are still checked on the rest.
"""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from distributed import LocalCluster  # noqa: E402

from engine.limits import LIMITS  # noqa: E402
from service import create_app  # noqa: E402
from service.config import TestConfig  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

WORK_SCALE = float(os.environ.get("FUZZ_WORK_SCALE", "0.01"))

app = create_app(TestConfig)
# The sweep endpoints keep their jobs on a Dask scheduler: an in-process one without workers, so fuzzed
# sweeps are validated, submitted and queued, but never computed.
_scheduler = LocalCluster(n_workers=0, processes=False, dashboard_address=None)
app.config["DASK_SCHEDULER"] = _scheduler.scheduler_address
schema = schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(autouse=True)
def _small_work_budgets(monkeypatch):
    for name, value in list(LIMITS.items()):
        if name.endswith("_work"):
            monkeypatch.setitem(LIMITS, name, max(1, int(value * WORK_SCALE)))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_is_robust(case):
    case.call_and_validate(checks=CHECKS)


# Routes deliberately outside the JSON API's document (HTML pages), with where they are defined.
UNDOCUMENTED = {"/": "the explorer page (service/blueprints/explorer.py)"}


def test_every_route_is_in_the_openapi_document():
    """Fuzzing covers the document, so a route missing from it would go unfuzzed."""
    doc = app.test_client().get("/openapi.json").get_json()
    documented = {p.replace("{", "<").replace("}", ">") for p in doc["paths"]}
    routes = {
        r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint != "static" and not r.rule.startswith(("/openapi", "/docs", "/static"))
    }
    # flask-smorest documents <converter:name> as {name}; compare on the bare names
    routes = {r.replace("<int:", "<").replace("<string:", "<") for r in routes} - set(UNDOCUMENTED)
    assert routes <= documented, f"routes missing from /openapi.json: {sorted(routes - documented)}"
