"""The background sender: updates leave in the order they were queued, the caller never waits for the layer."""

import asyncio
import threading

from realtime.sender import BackgroundSender


def test_items_are_sent_in_order_from_one_thread_and_flush_waits_for_them():
    sent, threads = [], set()
    release = threading.Event()

    async def send(batch):
        threads.add(threading.current_thread().name)
        await asyncio.to_thread(release.wait)  # the layer is slow: the caller must not wait for it
        sent.extend(batch)

    sender = BackgroundSender(send)
    for item in range(50):
        sender.put(item)
    assert sent == [] and not sender.flush(timeout=0.05)  # queued, and put() returned at once
    release.set()
    assert sender.flush(timeout=5)
    assert sent == list(range(50))
    assert threads == {"realtime-sender"}


def test_a_failed_send_is_logged_and_the_next_one_still_goes(caplog):
    sent = []

    async def send(batch):
        if batch == ["bad"]:
            raise ConnectionError("redis went away")
        sent.extend(batch)

    sender = BackgroundSender(send)
    sender.put("bad")
    assert sender.flush()
    sender.put("good")
    assert sender.flush()
    assert sent == ["good"]
    assert "sending 1 realtime update(s) failed" in caplog.text
