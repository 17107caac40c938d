import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from markets.writer import Writer


class Command(BaseCommand):
    help = "Take the queued orders of a share of the markets in batches, one transaction each (markets/writer.py)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--shard", default="0/1", help="K/N: serve the markets whose key modulo N is K (run N writers, K = 0..N-1)"
        )

    def handle(self, *args, shard, **options):
        if not settings.ORDER_WRITER_REDIS_URL:
            raise CommandError("An order writer needs REDIS_URL: orders queue there.")
        try:
            index, count = (int(part) for part in shard.split("/"))
            if not 0 <= index < count:
                raise ValueError
        except ValueError:
            raise CommandError("--shard takes K/N with 0 <= K < N, e.g. 0/2") from None
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        writer = Writer(shard=index, shards=count, stop=stop)
        writer.run()
        cpu = f", {time.process_time() * 1000 / writer.orders:.2f} ms of CPU per order" if writer.orders else ""
        self.stdout.write(f"order writer {shard}: {writer.orders} orders in {writer.batches} batches{cpu}")
