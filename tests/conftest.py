import pytest

from service import create_app
from service.config import TestConfig


@pytest.fixture(scope="session")
def app():
    return create_app(TestConfig)


@pytest.fixture()
def client(app):
    return app.test_client()


# A real Dask scheduler + 2 workers (subprocesses), started on first use by the sweep tests.
from dask_cluster import dask_cluster  # noqa: E402, F401
