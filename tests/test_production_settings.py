"""Production settings pass Django's deployment checks and refuse to start with a development secret."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, secret_key: str, cache_url: str | None = "redis://127.0.0.1:6379/1"):
    # The browser tests' conftest allows async-unsafe ORM calls in this process; production must not inherit that.
    inherited = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "CACHE_URL")}
    env = inherited | {
        "DJANGO_SETTINGS_MODULE": "exchange.settings.production",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "exchange.example",
    }
    if cache_url is not None:
        env["CACHE_URL"] = cache_url
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_passes_at_warning_level():
    result = manage("check", "--deploy", "--fail-level", "WARNING", secret_key=secrets.token_urlsafe(60))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_development_secret_key_is_refused():
    result = manage("check", secret_key="dev-only-insecure-key-change-me")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_cache_of_its_own_per_process_is_refused():
    """Signed requests are accepted once; a per-process cache would accept a replay once per worker."""
    result = manage("check", secret_key=secrets.token_urlsafe(60), cache_url=None)
    assert result.returncode != 0
    assert "CACHE_URL" in result.stderr
