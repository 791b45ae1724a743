"""What a frontend asks for, how often, and how fast it must answer: the one table of the load test.

Read by ``loadtests/locustfile.py`` (tasks), ``loadtests/run.py`` (thresholds) and
``tests/test_loadtest_scenarios.py`` (every row's request is accepted by the in-process app
and passes its own content check). Plain Python, no locust import.

To add an endpoint, add a ``Scenario`` row. A row whose ``method path`` is not in the
service's ``/openapi.json`` is skipped at start-up (reported as "pending"), so rows may be
written before their endpoint lands.

* ``client``: which kind of user sends it (one Locust user class per kind, ``CLIENTS``);
* ``weight``: relative frequency within that client (Locust task weight);
* ``body``: the JSON body, or a function of a ``random.Random`` giving one (varied inputs);
* ``check``: returns ``None`` when the response body is right, else a reason (a failure);
* ``p95_ms``: the 95th-percentile latency budget under the default load (``LIGHT_P95_MS`` for
  the light, interactive endpoints a slider drives).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

# --- thresholds: the one place -----------------------------------------------------------
LIGHT_P95_MS = 100  # a slider drag must feel immediate
HEAVY_P95_MS = 1000  # a full landscape / training run: one deliberate click
MAX_FAILURE_RATIO = 0.0  # any failed request fails the run

# kind of client -> Locust user-class weight (how many of the simulated users are of this kind)
CLIENTS: dict[str, int] = {
    "explorer": 6,  # the explainer page: menus, losses, single trajectories, schedules
    "landscape": 3,  # landscape views: grids, slices, optimizer races on a surface
    "trainer": 1,  # the training lab: datasets, training runs, diagnoses
}
# seconds a person of each kind waits between two requests: dragging a slider fires requests
# back to back; a new landscape is looked at for a moment; a training run is read for seconds
THINK_S: dict[str, tuple[float, float]] = {
    "explorer": (0.1, 0.5),
    "landscape": (0.5, 1.5),
    "trainer": (2.0, 5.0),
}


@dataclass(frozen=True)
class Scenario:
    name: str  # Locust's name= grouping (the method is shown beside it), e.g. "/api/v1/landscapes/grid 101x101"
    method: str
    path: str
    client: str
    weight: int
    check: Callable[[Any], str | None]
    body: dict | Callable[[random.Random], dict] | None = None
    p95_ms: int = LIGHT_P95_MS
    tags: tuple[str, ...] = field(default=())
    stream: bool = False  # text/event-stream: check() gets [{"event", "data"}, ...], data JSON-decoded

    def make_body(self, rng: random.Random) -> dict | None:
        return self.body(rng) if callable(self.body) else self.body

    def decode(self, content: bytes):
        """The response body as ``check`` takes it (orjson: a 3 MB grid parses in a few ms)."""
        return parse_sse(content) if self.stream else orjson.loads(content)


def parse_sse(content: bytes) -> list[dict]:
    """Server-sent events -> [{"event": name, "data": decoded JSON}, ...] (blank-line separated)."""
    events = []
    for block in content.decode().split("\n\n"):
        if not block.strip():
            continue
        ev = {"event": "message", "data": ""}
        for line in block.split("\n"):
            key, _, value = line.partition(":")
            if key in ("event", "data"):
                ev[key] = (ev[key] + "\n" if key == "data" and ev[key] else "") + value.removeprefix(" ")
        ev["data"] = orjson.loads(ev["data"])
        events.append(ev)
    return events


# --- content checks ----------------------------------------------------------------------
def _all_finite(values) -> bool:
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
    return True


def _matrix(value, rows: int, cols: int) -> bool:
    return isinstance(value, list) and len(value) == rows and all(isinstance(r, list) and len(r) == cols for r in value)


def check_health(b) -> str | None:
    return None if b.get("ready") is True and b.get("status") in ("ok", "busy") else f"not ready: {b}"


def check_catalog(b) -> str | None:
    if not isinstance(b.get("limits"), dict) or "max_grid_axis" not in b["limits"]:
        return "catalog without limits"
    return None


def check_grid(nx: int, ny: int, gradient: bool = False):
    def check(b) -> str | None:
        if len(b.get("x", ())) != nx or len(b.get("y", ())) != ny or not _matrix(b.get("z"), ny, nx):
            return f"grid is not {ny}x{nx}"
        if not (_all_finite([b["z_min"], b["z_max"]]) and b["z_min"] <= b["z_max"]):
            return "z_min/z_max missing or out of order"
        corners = [b["z"][0][0], b["z"][0][-1], b["z"][-1][0], b["z"][-1][-1], b["z"][ny // 2][nx // 2]]
        if not _all_finite(corners) or not all(b["z_min"] <= v <= b["z_max"] for v in corners):
            return "z values outside [z_min, z_max]"
        if gradient and not _matrix(b.get("grad_norm"), ny, nx):
            return "grad_norm missing"
        return None

    return check


def check_critical_points(min_points: int):
    def check(b) -> str | None:
        pts = b.get("points")
        if not isinstance(pts, list) or len(pts) < min_points:
            return f"expected >= {min_points} critical points, got {pts if not isinstance(pts, list) else len(pts)}"
        if any(p.get("kind") not in ("minimum", "maximum", "saddle", "degenerate") for p in pts):
            return "unknown kind of critical point"
        return None

    return check


def check_slice(points: int):
    def check(b) -> str | None:
        if any(len(b.get(k, ())) != points for k in ("t", "x", "y", "value", "derivative")):
            return f"slice arrays are not {points} long"
        return None if _all_finite(b["value"]) else "non-finite slice values"

    return check


def check_loss(n: int):
    def check(b) -> str | None:
        if not _all_finite([b.get("value")]) or not _all_finite(b.get("gradient")) or len(b["gradient"]) != n:
            return f"loss value or a gradient of {n} finite numbers missing"
        return None

    return check


def check_curves(losses: int, points: int):
    def check(b) -> str | None:
        curves = b.get("curves")
        if not isinstance(curves, list) or len(curves) != losses:
            return f"expected {losses} curves"
        for c in curves:
            if not (0 < len(c.get("x", ())) <= points and len(c["value"]) == len(c["derivative"]) == len(c["x"])):
                return f"curve {c.get('loss')} has the wrong length"
            if not (_all_finite(c["value"]) and _all_finite(c["derivative"])):
                return f"curve {c.get('loss')} has non-finite values"
        return None

    return check


def check_lr(steps: int):
    def check(b) -> str | None:
        lr = b.get("lr")
        if not isinstance(lr, list) or len(lr) != steps or not _all_finite(lr) or min(lr) < 0:
            return f"lr is not {steps} finite non-negative values"
        return None if isinstance(b.get("schedule"), dict) and b["schedule"].get("name") else "no resolved schedule"

    return check


def check_dataset(n_train: int, n_val: int):
    def check(b) -> str | None:
        if len(b.get("x_train", ())) != n_train or len(b.get("y_train", ())) != n_train:
            return "wrong number of training points"
        if len(b.get("x_val", ())) != n_val or not _all_finite(b["x_train"]):
            return "wrong validation split or non-finite inputs"
        return None

    return check


def check_diagnosis(b) -> str | None:
    return None if isinstance(b.get("diagnosis"), str) and b["diagnosis"] else f"no diagnosis: {list(b)}"


def check_trajectory(b) -> str | None:
    n = b.get("steps_taken")
    if not isinstance(n, int) or b.get("status") not in ("converged", "diverged", "max_steps"):
        return f"no status/steps_taken: {list(b)}"
    if len(b["path"]) != n + 1 or len(b["loss"]) != n + 1 or len(b["update"]) != n or len(b["lr"]) != n:
        return "trajectory arrays not aligned with steps_taken"
    return None if _all_finite([b["path"], b["loss"], b["gradient"], b["update"]]) else "non-finite trajectory"


def check_race(runs: int):
    def check(b) -> str | None:
        if len(b.get("runs", ())) != runs or len(b.get("summary", ())) != runs:
            return f"expected {runs} runs and summaries"
        return next(filter(None, map(check_trajectory, b["runs"])), None)

    return check


def check_sweep(runs: int):
    def check(b) -> str | None:
        if len(b.get("runs", ())) != runs or not b.get("rule"):
            return f"expected {runs} runs and a rule"
        if any(r.get("verdict") not in ("too_small", "good", "oscillating", "diverged") for r in b["runs"]):
            return "unknown verdict"
        return None if _all_finite([r["loss"] for r in b["runs"]]) else "non-finite loss curve"

    return check


def check_range_test(b) -> str | None:
    m = len(b.get("lrs", ()))
    if m < 2 or len(b.get("loss", ())) != m or len(b.get("smoothed", ())) != m:
        return "lrs/loss/smoothed missing or not aligned"
    return None if _all_finite([b["suggested_lr"], b["loss"]]) and b["suggested_lr"] > 0 else "bad suggested_lr"


def check_basins(nx: int, ny: int):
    def check(b) -> str | None:
        if not _matrix(b.get("label"), ny, nx) or not _matrix(b.get("steps"), ny, nx):
            return f"label/steps are not {ny}x{nx}"
        k = len(b.get("minima", ()))
        return None if all(-2 <= v < k for row in b["label"] for v in row) else "label outside [-2, len(minima))"

    return check


# --- request bodies ----------------------------------------------------------------------
SCHEDULES = [
    {"name": "constant"},
    {"name": "step", "step_size": 50, "gamma": 0.5},
    {"name": "multistep", "milestones": [50, 100, 150]},
    {"name": "cosine", "T_max": 200},
    {"name": "warmup_cosine", "warmup_steps": 20},
    {"name": "onecycle"},
]
SURFACES = ["quadratic", "rosenbrock", "beale", "himmelblau", "rastrigin", "ackley", "six_hump_camel", "saddle"]


LOSS_BODIES = [
    {"loss": "mse", "predictions": [0.7, 0.2, 0.1], "targets": [1, 0, 0]},
    {"loss": "cross_entropy", "predictions": [0.7, 0.2, 0.1], "targets": [1, 0, 0]},
    {"loss": "huber", "predictions": [0.7, 0.2, 0.1], "targets": [1, 0, 0], "delta": 0.5},
    {"loss": "cross_entropy_with_logits", "predictions": [2.0, 1.0, 0.1], "targets": [1, 0, 0], "label_smoothing": 0.1},
]


def _training_ok(b, max_epochs: int) -> str | None:
    h = b.get("history")
    if not isinstance(h, dict) or b.get("stop_reason") not in ("completed", "early_stopping", "diverged"):
        return f"no history/stop_reason: {list(b)}"
    n = b.get("epochs_run")
    if not isinstance(n, int) or not 1 <= n <= max_epochs or len(h.get("val_loss", ())) != n:
        return "history not aligned with epochs_run"
    if not _all_finite([h["train_loss"], h["val_loss"], h["lr"], b["prediction"]["y"]]):
        return "non-finite history or prediction"
    return None


def check_training_run(max_epochs: int):
    return lambda b: _training_ok(b, max_epochs)


def check_stream(max_epochs: int):
    def check(events) -> str | None:
        if not isinstance(events, list) or not events or events[-1].get("event") != "summary":
            return "stream did not end with a summary event"
        epochs = [e["data"] for e in events[:-1]]
        if any(e.get("event") != "epoch" for e in events[:-1]) or not epochs:
            return "expected epoch events before the summary"
        summary = events[-1]["data"]
        problem = _training_ok(summary, max_epochs)
        if problem:
            return f"summary: {problem}"
        if len(epochs) != summary["epochs_run"]:
            return f"{len(epochs)} epoch events for {summary['epochs_run']} epochs run"
        return None

    return check


def check_backprop(widths: list[int]):
    def check(b) -> str | None:
        if b.get("widths") != widths or len(b.get("forward", ())) != len(widths) - 1:
            return f"no forward record per layer of {widths}"
        if len(b.get("backward", ())) != len(widths) - 1 or not _all_finite([b.get("loss")]):
            return "no backward record per layer, or no finite loss"
        cr = b.get("chain_rule") or {}
        if not _all_finite([cr.get("all_paths_sum"), cr.get("backprop")]):
            return "chain rule sums missing"
        if abs(cr["all_paths_sum"] - cr["backprop"]) > 1e-9 * max(1.0, abs(cr["backprop"])):
            return "chain rule over all paths disagrees with backprop"
        return None

    return check


def check_profile(depth: int):
    def check(b) -> str | None:
        if len(b.get("layers", ())) != depth or b.get("verdict") not in ("vanishing", "exploding", "stable"):
            return f"expected {depth} layer rows and a verdict"
        return None

    return check


def check_network_landscape(resolution: int):
    def check(b) -> str | None:
        if len(b.get("alpha", ())) != resolution or not _matrix(b.get("loss"), resolution, resolution):
            return f"loss is not {resolution}x{resolution}"
        return None if _all_finite([b["loss_min"], b["loss_max"]]) else "no finite loss range"

    return check


def check_compare(names: tuple[str, ...], max_epochs: int):
    def check(b) -> str | None:
        runs = b.get("runs")
        if not isinstance(runs, list) or tuple(r.get("name") for r in runs) != names:
            return "runs missing or out of request order"
        for r in runs:
            if not isinstance(r.get("gap"), float):
                return f"{r.get('name')}: no gap"
            problem = _training_ok(r, max_epochs)
            if problem:
                return f"{r.get('name')}: {problem}"
        return None

    return check


def _training_body(rng: random.Random, epochs: int) -> dict:
    return {"dataset": {"name": "sine", "n_train": 30, "n_val": 200, "noise": 0.3, "seed": rng.randrange(1000)},
            "model": {"layers": [1, 32, 32, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.01},
            "schedule": {"name": "warmup_cosine", "warmup_steps": 10}, "epochs": epochs, "batch_size": 16,
            "early_stopping": {"patience": 50}, "seed": rng.randrange(1000)}


def _loss_curve(rng: random.Random, n: int = 200) -> list[float]:
    rate = rng.uniform(0.01, 0.05)
    return [2.0 * math.exp(-rate * t) + 0.1 + 0.01 * rng.random() for t in range(n)]


# --- the table ---------------------------------------------------------------------------
SCENARIOS: list[Scenario] = [
    # explorer: a page load fetches the catalog; sliders drive small requests
    Scenario("/healthz", "GET", "/healthz", "explorer", 1, check_health),
    Scenario("/api/v1/catalog", "GET", "/api/v1/catalog", "explorer", 3, check_catalog),
    Scenario(
        "/api/v1/schedules 200 steps",
        "POST",
        "/api/v1/schedules",
        "explorer",
        3,
        check_lr(200),
        body=lambda rng: {"schedule": rng.choice(SCHEDULES), "base_lr": rng.choice([0.01, 0.1, 0.3]), "steps": 200},
    ),
    Scenario(
        "/api/v1/losses/evaluate 3",
        "POST",
        "/api/v1/losses/evaluate",
        "explorer",
        3,
        check_loss(3),
        body=lambda rng: dict(rng.choice(LOSS_BODIES)),
    ),
    Scenario(
        "/api/v1/losses/curves 4x201",
        "POST",
        "/api/v1/losses/curves",
        "explorer",
        2,
        check_curves(4, 201),
        body={"losses": ["mse", "mae", "huber", "cross_entropy_with_logits"], "points": 201, "delta": 1.0,
              "label_smoothing": 0.1},
    ),
    # the descent section: a click plays one trajectory (the first row is the bound tests' base:
    # linear_regression, so batch_size applies); the learning-rate section sweeps a few rates
    Scenario(
        "/api/v1/descent/trajectory linear_regression minibatch 300",
        "POST",
        "/api/v1/descent/trajectory",
        "explorer",
        1,
        check_trajectory,
        body=lambda rng: {"surface": "linear_regression", "start": [rng.uniform(-1, 5), rng.uniform(-4, 2)],
                          "steps": 300, "optimizer": {"name": "sgd", "lr": 0.05}, "batch_size": 8,
                          "noise": {"scale": 0.0, "seed": rng.randrange(1000)}},
    ),
    Scenario(
        "/api/v1/descent/trajectory 500",
        "POST",
        "/api/v1/descent/trajectory",
        "explorer",
        4,
        check_trajectory,
        body=lambda rng: {"surface": rng.choice(SURFACES), "start": [rng.uniform(-1.5, 1.5), rng.uniform(-1, 2)],
                          "steps": 500, "optimizer": rng.choice([{"name": "sgd", "lr": 0.01},
                                                                 {"name": "adam", "lr": 0.05},
                                                                 {"name": "sgd", "lr": 0.005, "momentum": 0.9}]),
                          "noise": {"scale": rng.choice([0.0, 1.0]), "seed": rng.randrange(1000)}},
    ),
    Scenario(
        "/api/v1/descent/lr-sweep 6x200",
        "POST",
        "/api/v1/descent/lr-sweep",
        "explorer",
        1,
        check_sweep(6),
        body=lambda rng: {"surface": rng.choice(["quadratic", "rosenbrock", "himmelblau"]), "optimizer": {"name": "sgd"},
                          "lrs": [1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.3], "steps": 200},
    ),
    Scenario(
        "/api/v1/descent/lr-range-test 100",
        "POST",
        "/api/v1/descent/lr-range-test",
        "explorer",
        1,
        check_range_test,
        body=lambda rng: {"surface": rng.choice(["quadratic", "rosenbrock", "linear_regression"]),
                          "optimizer": {"name": rng.choice(["sgd", "adam"])}, "lr_min": 1e-5, "lr_max": 10.0,
                          "steps": 100},
    ),
    Scenario(
        "/api/v1/networks/backprop 2-3-1 x4",
        "POST",
        "/api/v1/networks/backprop",
        "explorer",
        2,
        check_backprop([2, 3, 1]),
        body=lambda rng: {"layers": [2, 3, 1], "activation": rng.choice(["sigmoid", "tanh", "relu"]),
                          "inputs": [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)],
                          "targets": [[float(rng.random() < 0.5)] for _ in range(4)], "seed": rng.randrange(1000)},
    ),
    Scenario(
        "/api/v1/networks/gradient-profile depth 10 x32",
        "POST",
        "/api/v1/networks/gradient-profile",
        "explorer",
        2,
        check_profile(10),
        body=lambda rng: {"depth": 10, "width": 32, "activation": rng.choice(["sigmoid", "tanh", "relu"]),
                          "seed": rng.randrange(1000)},
    ),
    # landscape views: a surface picker redraws a grid; hovering slices it; markers show critical points
    Scenario("/api/v1/catalog", "GET", "/api/v1/catalog", "landscape", 1, check_catalog),
    Scenario(
        "/api/v1/landscapes/grid 101x101",
        "POST",
        "/api/v1/landscapes/grid",
        "landscape",
        4,
        check_grid(101, 101),
        body=lambda rng: {"surface": rng.choice(SURFACES), "resolution": [101, 101]},
    ),
    Scenario(
        "/api/v1/landscapes/grid 301x301+gradient",
        "POST",
        "/api/v1/landscapes/grid",
        "landscape",
        1,
        check_grid(301, 301, gradient=True),
        body=lambda rng: {"surface": rng.choice(SURFACES), "resolution": [301, 301], "gradient": True},
        p95_ms=HEAVY_P95_MS,
    ),
    Scenario(
        "/api/v1/landscapes/slice 201",
        "POST",
        "/api/v1/landscapes/slice",
        "landscape",
        3,
        check_slice(201),
        body=lambda rng: {"surface": "rosenbrock", "point": [rng.uniform(-1.5, 1.5), rng.uniform(-0.5, 2.0)],
                          "direction": [1.0, rng.uniform(-1, 1)], "points": 201},
    ),
    Scenario(
        "/api/v1/landscapes/critical-points himmelblau 21",
        "POST",
        "/api/v1/landscapes/critical-points",
        "landscape",
        1,
        check_critical_points(9),  # 4 minima, 1 maximum, 4 saddles
        body={"surface": "himmelblau", "seeds": 21},
    ),
    # optimizer races on a surface, and the basin map behind them
    Scenario(
        "/api/v1/descent/race 4x500",
        "POST",
        "/api/v1/descent/race",
        "landscape",
        2,
        check_race(4),
        body=lambda rng: {"surface": rng.choice(["rosenbrock", "himmelblau", "beale", "six_hump_camel"]),
                          "start": [rng.uniform(-1.5, 1.5), rng.uniform(-1, 2)], "steps": 500,
                          "optimizers": [{"name": "sgd", "lr": 0.001}, {"name": "sgd", "lr": 0.001, "momentum": 0.9},
                                         {"name": "rmsprop", "lr": 0.01}, {"name": "adam", "lr": 0.05}]},
    ),
    Scenario(
        "/api/v1/descent/basins 60x60x300",
        "POST",
        "/api/v1/descent/basins",
        "landscape",
        1,
        check_basins(60, 60),
        body=lambda rng: {"surface": rng.choice(["himmelblau", "six_hump_camel", "rastrigin"]),
                          "optimizer": {"name": "adam", "lr": 0.05}, "resolution": [60, 60], "steps": 300},
        p95_ms=HEAVY_P95_MS,
    ),
    Scenario(
        "/api/v1/networks/landscape 21x21 after 100 steps",
        "POST",
        "/api/v1/networks/landscape",
        "landscape",
        1,
        check_network_landscape(21),
        body=lambda rng: {"dims": 2, "resolution": 21, "train_steps": 100, "seed": rng.randrange(1000)},
        p95_ms=HEAVY_P95_MS,
    ),
    # training lab
    Scenario("/api/v1/catalog", "GET", "/api/v1/catalog", "trainer", 1, check_catalog),
    Scenario(
        "/api/v1/training/dataset moons 200+100",
        "POST",
        "/api/v1/training/dataset",
        "trainer",
        3,
        check_dataset(200, 100),
        body=lambda rng: {"name": "moons", "n_train": 200, "n_val": 100, "seed": rng.randrange(1000)},
    ),
    Scenario(
        "/api/v1/training/diagnose 200 epochs",
        "POST",
        "/api/v1/training/diagnose",
        "trainer",
        2,
        check_diagnosis,
        body=lambda rng: {"train_loss": _loss_curve(rng), "val_loss": _loss_curve(rng)},
    ),
    Scenario(
        "/api/v1/training/run sine 1-32-32-1 x200",
        "POST",
        "/api/v1/training/run",
        "trainer",
        2,
        check_training_run(200),
        body=lambda rng: _training_body(rng, 200),
        p95_ms=HEAVY_P95_MS,
    ),
    Scenario(
        "/api/v1/training/stream sine 1-32-32-1 x200",
        "POST",
        "/api/v1/training/stream",
        "trainer",
        1,
        check_stream(200),
        body=lambda rng: _training_body(rng, 200),
        p95_ms=HEAVY_P95_MS,
        stream=True,
    ),
    Scenario(
        "/api/v1/training/compare 4 variants x200",
        "POST",
        "/api/v1/training/compare",
        "trainer",
        1,
        check_compare(("none", "l1", "l2", "dropout"), 200),
        body=lambda rng: {**_training_body(rng, 200), "variants": [
            {"name": "none"}, {"name": "l1", "regularization": {"l1": 1e-3}},
            {"name": "l2", "regularization": {"l2": 1e-3}}, {"name": "dropout", "regularization": {"dropout": 0.2}}]},
        p95_ms=HEAVY_P95_MS,
    ),
]


def light(s: Scenario) -> bool:
    return s.p95_ms <= LIGHT_P95_MS


def keep(scenarios, ops) -> tuple[list[Scenario], list[Scenario]]:
    have = [s for s in scenarios if (s.method, s.path) in ops]
    return have, [s for s in scenarios if (s.method, s.path) not in ops]


def verdict(stats) -> list[str]:
    """Reasons the run failed: any failure, or a row over its p95 budget.

    ``stats`` is Locust's ``RequestStats`` (``total`` and ``entries[(name, method)]``).
    """
    problems = []
    total = stats.total
    if total.num_requests == 0:
        problems.append("no requests were made")
    elif total.num_failures / total.num_requests > MAX_FAILURE_RATIO:
        problems.append(f"{total.num_failures} of {total.num_requests} requests failed")
    budgets = {}
    for s in SCENARIOS:
        budgets[(s.method, s.name)] = min(s.p95_ms, budgets.get((s.method, s.name), s.p95_ms))
    for (method, name), budget in sorted(budgets.items()):
        entry = stats.entries.get((name, method))
        if entry is None or entry.num_requests == 0:
            continue
        p95 = entry.get_response_time_percentile(0.95)
        if p95 > budget:
            problems.append(f"{method} {name}: p95 {p95:.0f} ms > budget {budget} ms")
    return problems
