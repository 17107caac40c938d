"""realtime/eager.py: a coroutine run in the caller up to its first wait, and finished later in order."""

import asyncio

import pytest

from realtime import eager


async def test_a_coroutine_that_never_waits_is_done_when_start_returns():
    done = []

    async def send():
        done.append("sent")

    assert eager.start(send()) is None
    assert done == ["sent"]


async def test_a_coroutine_that_waits_runs_up_to_the_wait_and_its_rest_finishes_it_with_its_result():
    steps, gate = [], asyncio.Event()

    async def send():
        steps.append("before")
        await gate.wait()
        steps.append("after")
        return "result"

    rest = eager.start(send())
    assert steps == ["before"]
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0.01)
    assert steps == ["before"] and not task.done()
    gate.set()
    assert await task == "result"
    assert steps == ["before", "after"]


async def test_what_the_coroutine_raises_reaches_the_caller_or_the_awaiter():
    gate = asyncio.Event()

    async def fails_at_once():
        raise OSError("gone")

    async def fails_later():
        await gate.wait()
        raise OSError("gone later")

    with pytest.raises(OSError, match="gone"):
        eager.start(fails_at_once())
    task = asyncio.ensure_future(eager.start(fails_later()))
    gate.set()
    with pytest.raises(OSError, match="gone later"):
        await task


async def test_cancelling_the_rest_ends_the_coroutine_and_runs_its_cleanup():
    cleaned = []

    async def send():
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = asyncio.ensure_future(eager.start(send()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]
