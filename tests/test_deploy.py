"""The deployment files agree with each other, and the nginx + gunicorn setup really balances.

``deploy/smoke.sh`` runs the docker-compose topology without Docker (gunicorn replicas on
loopback behind nginx with a rendered copy of ``deploy/nginx.conf``); skipped where nginx is
not installed (``apt-get install -y nginx``).
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()


def test_every_replica_is_an_nginx_upstream_and_health_checked():
    apis = sorted(name for name in COMPOSE["services"] if re.fullmatch(r"api\d+", name))
    assert len(apis) >= 2
    upstreams = sorted(re.findall(r"^\s*server (api\d+):(\d+)", NGINX_CONF, re.M))
    assert [u[0] for u in upstreams] == apis
    for name in apis:
        svc = COMPOSE["services"][name]
        port = str(svc["environment"]["PORT"])
        assert all(p == port for _, p in upstreams)
        assert f"127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])
    deps = COMPOSE["services"]["nginx"]["depends_on"]
    assert {k: v["condition"] for k, v in deps.items()} == {a: "service_healthy" for a in apis}


def test_proxy_limits_sit_above_the_app_limits(monkeypatch):
    from service.config import Config

    monkeypatch.setattr(os, "environ", dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".numba_cache")))
    timeout = runpy.run_path(str(ROOT / "service" / "gunicorn_conf.py"))["timeout"]

    body = re.search(r"client_max_body_size (\d+)m;", NGINX_CONF)
    assert int(body.group(1)) * 1024 * 1024 > Config.MAX_CONTENT_LENGTH
    read = re.search(r"proxy_read_timeout (\d+)s;", NGINX_CONF)
    assert int(read.group(1)) > timeout


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_is_valid():
    r = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="nginx not installed")
def test_nginx_balances_gunicorn_replicas():
    env = dict(os.environ, DESCENTLAB_WARMUP="0", REQUESTS="30", REPLICAS="3")
    r = subprocess.run(["bash", str(ROOT / "deploy" / "smoke.sh")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    served = [int(n) for n in re.findall(r"^smoke:\s+(\d+) upstream=", r.stdout, re.M)]
    assert len(served) == 3 and sum(served) == 30 and min(served) >= 5, r.stdout
    assert "smoke: OK" in r.stdout
