"""Run callables at the same moment in real threads, each with its own database connection."""

import threading
from collections.abc import Callable

from django.db import connections


def run_together(calls: list[Callable[[], object]], timeout: float = 60) -> list[object]:
    """Start every call behind one barrier; return each call's result or the exception it raised, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as error:  # noqa: BLE001 - the test inspects what each call raised
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a concurrent call hung: a deadlock?"
    return results
