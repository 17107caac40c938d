"""Run a coroutine right away, in the caller, as far as it gets without waiting (Python 3.12's eager tasks do this
for a task; the project runs on 3.11).

The feed hub writes an update to a thousand sockets from one loop (realtime/consumers.py `FeedConsumer.deliver`).
An ASGI `send` normally finishes without waiting, because the frame goes to the socket's buffer; it waits only
when that buffer is full, and then the rest must run later, in order, without holding up the other sockets.
"""

import types
from collections.abc import Coroutine, Generator
from typing import Any


def start(coroutine: Coroutine) -> Generator | None:
    """Step `coroutine` until it finishes (None) or waits: then return what finishes it, for `await` or a task.

    What it raises is raised here."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return _finish(coroutine, waiting_on)


@types.coroutine
def _finish(coroutine: Coroutine, waiting_on: Any) -> Generator:
    try:
        yield waiting_on  # to the task running this, which resumes us once what the coroutine waits for is done
    except BaseException:  # cancelled meanwhile: end the coroutine too (its finally clauses run)
        coroutine.close()
        raise
    return (yield from coroutine)
