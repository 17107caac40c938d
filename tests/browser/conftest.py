"""The exchange served by its ASGI server (uvicorn, websockets included) and headless Chromium driving it.

Browser tests run in a pytest process of their own (`-m browser`): Playwright's sync API keeps an event loop
running, which the async tests elsewhere in the suite cannot share.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.servers import ROOT, AsgiServer, database_url_for

# The test body uses the ORM while Playwright's sync API holds an event loop in the same thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(django_db_setup):
    """uvicorn serving exchange.asgi on a free port, on the test database and the test run's Redis.

    One per test: the feed caches tickers and candles per market symbol and sequence within its process, and each
    test's database starts again from an empty GOLD-BUCK, which a long-lived server would take for an old one.
    """
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.fail("browser tests need PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (make test does)")
    server = AsgiServer(
        env={
            "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": settings.SECRET_KEY,  # sessions made by the test must verify in the server
        }
    ).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(server, browser):
    """open_page(user=None, viewport=DESKTOP, path="/") -> a page in a browser context of its own, signed in as user.

    init_script runs in every document of the context before the page's own scripts.
    """
    contexts = []

    def open_(user=None, *, viewport=DESKTOP, path="/", init_script=None):
        context = browser.new_context(viewport=viewport, base_url=server)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server}])
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
