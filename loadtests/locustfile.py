"""Locust load test of the descentlab service: one user class per kind of client.

The tasks come from ``loadtests/scenarios.py`` (one row per request kind: weight, body,
content check, latency budget). At start the service's ``/openapi.json`` is read and rows
whose endpoint does not exist yet are skipped and listed as pending.

    make loadtest                                    # starts gunicorn, runs this headless, checks budgets
    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000     # web UI, against a running service

Settings (users, spawn rate, run time, CSV prefix) are in ``[tool.locust]`` of pyproject.toml.
At exit the run fails (exit code 1) if any request failed or a row's p95 exceeded its budget.
For debugging one user: ``python loadtests/locustfile.py`` (Locust's ``run_single_user``).
"""

from __future__ import annotations

import json
import logging
import random
import sys
import urllib.request
from pathlib import Path

import orjson
from locust import FastHttpUser, between, events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import CLIENTS, SCENARIOS, THINK_S, Scenario, keep, verdict  # noqa: E402

log = logging.getLogger("descentlab.loadtest")
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
PENDING: list[str] = []


def _make_task(s: Scenario):
    def task(user):
        body = s.make_body(user.rng)
        kwargs = {"data": orjson.dumps(body), "headers": JSON_HEADERS} if body is not None else {}
        with user.client.request(s.method, s.path, name=s.name, catch_response=True, **kwargs) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}: {(resp.content or b'')[:200]!r}")
                return
            try:
                # orjson: a 301x301 grid is 3 MB of JSON; json.loads would spend the client's
                # single core on it and inflate every concurrent user's measured latency
                problem = s.check(s.decode(resp.content))
            except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, UnicodeDecodeError) as e:
                problem = f"unexpected body ({type(e).__name__}: {e})"
            if problem:
                resp.failure(problem)

    task.__name__ = s.name
    return task


class _Client(FastHttpUser):
    abstract = True
    kind = ""

    def on_start(self):
        self.rng = random.Random()
        # a page load: the frontend builds its menus from the catalog
        with self.rest("GET", "/api/v1/catalog", name="/api/v1/catalog") as resp:
            if resp.js is not None and "limits" not in resp.js:
                resp.failure("catalog without limits")


class ExplorerUser(_Client):
    """The explainer page: menus, losses, single trajectories, schedules (light, frequent)."""

    kind = "explorer"
    weight = CLIENTS["explorer"]
    wait_time = between(*THINK_S["explorer"])
    tasks = [_make_task(s) for s in SCENARIOS if s.client == "explorer" for _ in range(s.weight)]


class LandscapeUser(_Client):
    """Landscape views: grids, slices, races on a surface (heavier, less often)."""

    kind = "landscape"
    weight = CLIENTS["landscape"]
    wait_time = between(*THINK_S["landscape"])
    tasks = [_make_task(s) for s in SCENARIOS if s.client == "landscape" for _ in range(s.weight)]


class TrainerUser(_Client):
    """The training lab: datasets, training runs, diagnoses (heaviest, rare)."""

    kind = "trainer"
    weight = CLIENTS["trainer"]
    wait_time = between(*THINK_S["trainer"])
    tasks = [_make_task(s) for s in SCENARIOS if s.client == "trainer" for _ in range(s.weight)]


USERS = (ExplorerUser, LandscapeUser, TrainerUser)


def available(host: str) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation the service documents."""
    with urllib.request.urlopen(host.rstrip("/") + "/openapi.json", timeout=30) as r:
        paths = json.load(r)["paths"]
    return {(m.upper(), p) for p, ops in paths.items() for m in ops}


@events.test_start.add_listener
def _skip_pending(environment, **_):
    ops = available(environment.host)
    for cls in USERS:
        have, missing = keep([s for s in SCENARIOS if s.client == cls.kind], ops)
        cls.tasks = [_make_task(s) for s in have for _ in range(s.weight)] or [_make_task(SCENARIOS[1])]
        PENDING.extend(f"{s.method} {s.path} ({cls.kind})" for s in missing)
    if PENDING:
        log.warning("endpoints not in /openapi.json yet, their tasks are skipped: %s", "; ".join(PENDING))


@events.quitting.add_listener
def _check_budgets(environment, **_):
    problems = verdict(environment.stats)
    for p in problems:
        log.error("budget: %s", p)
    if PENDING:
        log.info("pending (skipped) endpoints: %d", len(PENDING))
    if problems:
        environment.process_exit_code = 1
    else:
        log.info("budget: every request succeeded and every p95 is within its budget")


if __name__ == "__main__":
    from locust import run_single_user

    ExplorerUser.host = TrainerUser.host = LandscapeUser.host = "http://127.0.0.1:8000"
    run_single_user(ExplorerUser)
