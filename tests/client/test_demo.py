"""The living demo in CI: the server and both bots run for a few seconds, stop cleanly, and the books balance."""

import io
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from ledger.management.commands.demo_data import BOT_USERS
from markets.models import OPEN_STATUSES, Order, Trade
from tests.helpers import assert_audit_passes
from tests.servers import ROOT, database_url_for, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BOTS = list(BOT_USERS.values())


def bot_trades() -> int:
    return Trade.objects.filter(Q(buyer__username__in=BOTS) | Q(seller__username__in=BOTS)).count()


def test_a_short_demo_run_trades_stops_its_bots_and_passes_the_audit(tmp_path):
    keys = tmp_path / "keys.json"
    call_command("demo_data", bot_keys=str(keys), stdout=io.StringIO())
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
           "DJANGO_SETTINGS_MODULE": "exchange.settings.test"}
    server = [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--host", "127.0.0.1", "--port", str(port),
              "--lifespan", "off", "--log-level", "warning"]
    runner = subprocess.Popen(
        [sys.executable, "-m", "bots.demo", "--url", url, "--keys", str(keys), "--logs", str(tmp_path), "--rate", "5",
         "--", *server],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 40
        while bot_trades() < 10 and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.5)
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = runner.communicate(timeout=40)
    finally:
        if runner.poll() is None:
            runner.kill()
    logs = {name: (tmp_path / f"demo-{name}.log").read_text() for name in ("maker", "taker")}
    assert runner.returncode == 0, output
    assert bot_trades() >= 10, (output, logs)
    # Both bots cancelled their orders on the way out, while the server still answered; then the server stopped.
    assert not Order.objects.filter(user__username__in=BOTS, status__in=OPEN_STATUSES).exists()
    assert all("stopped: cancelled" in log for log in logs.values()), logs
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert_audit_passes()
