"""The shared cache on Redis with one connection pool and one client per process.

Django's RedisCache builds a new redis client for every operation, and `django.core.cache.caches` gives every ASGI
request (each runs in a context of its own) a new backend with new pools: each API request opened a new Redis
connection and paid its handshake, several milliseconds of CPU. redis-py clients and pools are thread-safe, so
one per process serves every request; the pool notices a fork and reconnects in the child.
"""

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property
from redis.commands.core import Script

_clients: dict[tuple, "_ProcessClient"] = {}
_lock = threading.Lock()


class _ProcessClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._redis_clients = {}
        self._scripts = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis_clients.get(index)
        if client is None:
            with _lock:
                client = self._redis_clients.get(index)
                if client is None:
                    client = self._redis_clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client

    def script(self, source: str) -> Script:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.get_client(write=True).register_script(source)
        return script


class RedisCache(DjangoRedisCache):
    """Django's RedisCache whose client (pools and connections) is shared by every instance in the process."""

    @cached_property
    def _cache(self):
        identity = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(identity)
        if client is None:
            with _lock:
                client = _clients.get(identity)
                if client is None:
                    client = _clients[identity] = _ProcessClient(self._servers, **self._options)
        return client

    def script(self, source: str) -> Script:
        """A Lua script to run on this cache's Redis (with keys made by make_and_validate_key), registered once per
        process: it is sent by its hash."""
        return self._cache.script(source)
