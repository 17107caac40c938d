"""The client's tests run against the real exchange: uvicorn serving exchange.asgi on the test's PostgreSQL
database and Redis, started once per session (tests/servers.py). Tests commit their data
(`django_db(transaction=True)`), so the server process sees it."""

import os
from dataclasses import dataclass

import pytest
from django.db import connection

from api import keys
from tests.conftest import fund, make_user
from tests.markets.conftest import gold_buck  # noqa: F401 - a fixture used by these tests
from tests.servers import asgi_servers, database_url_for

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.fixture(scope="session")
def server_url(django_db_setup) -> str:
    """The base URL of a served exchange on the test database."""
    if connection.vendor != "postgresql":
        pytest.fail("the client's tests serve the exchange from another process: they need PostgreSQL")
    database_url = database_url_for(connection.settings_dict["NAME"])
    with asgi_servers(1, env={"DATABASE_URL": database_url, "REDIS_URL": os.environ["REDIS_URL"]}) as (server,):
        yield server.url


@dataclass
class Trader:
    user: object
    key: str
    secret: str

    def credentials(self) -> dict:
        return {"key": self.key, "secret": self.secret}


def make_trader(name: str, market, scopes=("read", "trade")) -> Trader:
    """A user with 100 GOLD and 10,000 BUCK and an API key."""
    user = make_user(name)
    fund(user, market.base, 100_000)
    fund(user, market.quote, 1_000_000)
    key, secret = keys.key_create(user=user, name="test bot", scopes=list(scopes))
    return Trader(user, key.key_id, secret)


@pytest.fixture
def traders(gold_buck):  # noqa: F811
    return make_trader("ann", gold_buck), make_trader("ben", gold_buck)
