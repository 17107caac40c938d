"""The HTTP side of the ASGI application: each request's synchronous work in one call on a reused thread."""

import asyncio
import threading

from channels.testing import HttpCommunicator

from exchange.asgi import OneTripASGIHandler


def recording_handler(threads: int, before_respond=lambda: None):
    """A handler whose requests record the thread they ran on (and may wait, to overlap)."""
    handler = OneTripASGIHandler(threads=threads)
    respond, names = handler._respond, []

    def recorded(scope, body_file):
        names.append(threading.current_thread().name)
        before_respond()
        return respond(scope, body_file)

    handler._respond = recorded
    return handler, names


async def get_time(handler) -> int:
    response = await HttpCommunicator(handler, "GET", "/api/v1/time", headers=[(b"host", b"testserver")]).get_response(timeout=10)
    return response["status"]


async def test_requests_reuse_the_threads_of_the_pool():
    handler, names = recording_handler(threads=4)
    for _ in range(10):
        assert await get_time(handler) == 200
    # Requests one after another run on the pool's threads (Django's default started two threads per request).
    # Mostly on one; not always: a thread counts as idle again only a moment after its request has answered.
    assert len(names) == 10
    assert all(name.startswith("request") for name in names) and len(set(names)) <= 4
    handler.executor.shutdown()


async def test_requests_run_at_once_up_to_the_pool_size():
    both_inside = threading.Barrier(2, timeout=5)  # raises unless two requests are inside at once
    handler, names = recording_handler(threads=2, before_respond=both_inside.wait)
    assert await asyncio.gather(get_time(handler), get_time(handler)) == [200, 200]
    assert len(set(names)) == 2
    handler.executor.shutdown()
