"""A signed request is accepted once across every worker process, when they share CACHE_URL (production requires it)."""

import json
import os
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings
from django.db import connection

from api import keys
from exchange_client.signing import signed_headers
from tests.servers import asgi_servers, database_url_for

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_captured_request_replayed_to_another_worker_is_refused(alice, buck):
    key, secret = keys.key_create(user=alice, name="bot", scopes=["read"])
    redis = urlsplit(os.environ["REDIS_URL"])
    env = {
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CACHE_URL": urlunsplit(redis._replace(path="/15")),  # shared by both workers, apart from the layer's
        "SECRET_KEY": settings.SECRET_KEY,  # API key secrets are derived from it
    }
    headers = signed_headers(key.key_id, secret, "GET", "/api/v1/balances", b"")
    with asgi_servers(2, env=env) as [first, second]:
        accepted = httpx.get(f"{first.url}/api/v1/balances", headers=headers)
        replayed = httpx.get(f"{second.url}/api/v1/balances", headers=headers)

    assert accepted.status_code == 200, accepted.text
    assert replayed.status_code == 401
    assert json.loads(replayed.text)["error"]["code"] == "signature_reused"
