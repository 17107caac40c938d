"""The one place that reads the environment."""

import os
from urllib.parse import urlsplit

import dj_database_url

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or not value.strip() else int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# The statements this session prepares (exchange/prepared.py) are the order path's: lookups by key and writes of a
# few rows, whose plan does not depend on the values. Left to choose, PostgreSQL planned some of them anew on every
# run: a generic plan estimates unnest($1::bigint[]) or generate_series(1, $2) at many rows, so the plan for the
# actual few always looked cheaper, and with many resting orders so did the opposite side's first prices. Planning
# cost more than running them. Django's own queries bind on the client: no parameters this setting could act on.
PLAN_CACHE_MODE = "force_generic_plan"


def database_from_env(sqlite_path: str) -> dict:
    """PostgreSQL (pooled) when DATABASE_URL says so, else the embedded SQLite file."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_path,
            # IMMEDIATE: writers queue on the database lock instead of failing mid-transaction.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.postgresql":
        pool_size = int(os.environ.get("DATABASE_POOL_SIZE", "8"))
        # The pool refuses persistent connections, so CONN_MAX_AGE stays 0. With health checks Django has the pool
        # check a connection as it hands it out (one short round trip), so after a database restart no request
        # fails on a stale connection.
        config["OPTIONS"] = {"pool": {"min_size": 1, "max_size": pool_size, "timeout": 10}}
        config["CONN_HEALTH_CHECKS"] = True
        if prepare_threshold_from_env() is not None:
            config["OPTIONS"]["options"] = f"-c plan_cache_mode={PLAN_CACHE_MODE}"
    return config


def prepare_threshold_from_env() -> int | None:
    """Runs of an order-path statement on a connection before it is prepared there (exchange/prepared.py); None
    (DATABASE_PREPARE_THRESHOLD=off) behind a pooler that does not keep session state, such as PgBouncer in
    transaction mode."""
    threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "3")
    return None if threshold == "off" else int(threshold)


def channel_layer_from_env() -> dict:
    url = os.environ.get("REDIS_URL")
    if not url:
        return {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    return {
        # Redis pub/sub: a group_send is one PUBLISH, and a receive waits on an in-process queue. The list-based
        # RedisChannelLayer took three round trips and a Lua script per group_send, pushed to every member the
        # group had had that day (dead processes' too), and its receive (a BZPOPMIN in redis-py) could swallow a
        # cancellation, so a hub leaving the group hung (realtime/hub.py). A subscriber misses what is published
        # while its connection is down, as it missed what expired in the lists: the hub sees the gap in the
        # sequence and its consumers resynchronise. redis-py (pinned 8.1) subscribes again on reconnecting:
        # tests/realtime/test_layer.py restarts a Redis of its own to prove it.
        # Pub/sub channels are server-wide, not per database: the prefix keeps the URL's database number apart.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": url}], "prefix": f"asgi{urlsplit(url).path.strip('/') or '0'}"},
    }


def cache_from_env() -> dict:
    """Redis when CACHE_URL is set (shared by every process), else the per-process memory cache."""
    url = os.environ.get("CACHE_URL")
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {"BACKEND": "exchange.cache.RedisCache", "LOCATION": url}
