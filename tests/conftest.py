import pytest

from service import create_app
from service.config import TestConfig


@pytest.fixture(scope="session")
def app():
    return create_app(TestConfig)


@pytest.fixture()
def client(app):
    return app.test_client()
