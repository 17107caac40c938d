"""One background thread per process that hands committed updates to the channel layer, in the order committed.

Publishing runs in `transaction.on_commit`, in the thread that placed the order. Sending from there would make
every order wait for Redis, and outside an event loop (a bot's process, a management command) `async_to_sync`
builds a new event loop and new Redis connections per call. Instead the update goes on a queue and returns at
once; one daemon thread, with one event loop and so one set of layer connections, sends what has queued.

If the process dies with updates still queued, they are lost, as they were when a process died between commit
and send: subscribers see the gap in the book sequence and resynchronise (realtime/consumers.py).
"""

import asyncio
import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FLUSH_AT_EXIT_SECONDS = 2.0


class BackgroundSender:
    def __init__(self, send: Callable[[list], Awaitable[None]]):
        self._send = send  # sends a batch of queued items, in order
        self._queue: queue.Queue = queue.Queue()
        self._pid: int | None = None
        self._start_lock = threading.Lock()

    def put(self, item) -> None:
        if self._pid != os.getpid():  # first use in this process (or in a forked child)
            self._start()
        self._queue.put(item)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far has been sent; False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue()
            threading.Thread(target=self._run, name="realtime-sender", daemon=True).start()
            self._pid = os.getpid()
            atexit.register(self.flush, FLUSH_AT_EXIT_SECONDS)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        pending = self._queue
        while True:
            batch = [pending.get()]
            while not pending.empty() and len(batch) < 100:
                batch.append(pending.get_nowait())
            try:
                loop.run_until_complete(self._send(batch))
            except Exception:  # the money moved already; the subscribers resynchronise on the gap
                log.exception("sending %d realtime update(s) failed", len(batch))
            finally:
                for _ in batch:
                    pending.task_done()
