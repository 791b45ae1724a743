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


@pytest.fixture(scope="module")
def torch64():
    """torch with float64 as its default dtype (the optimizer oracles), or a skip where torch is missing."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # NAdam's mu_product and the step counters use the default dtype
    yield torch
    torch.set_default_dtype(old)
