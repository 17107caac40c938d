"""Median and p99 latency of placing an order over HTTP with a signed API key, against a real uvicorn server.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/api_latency.py [--orders 500]
It migrates that database, creates a market and two funded users, starts uvicorn on a free loopback port with
rate limits raised, places alternating buys and sells (half of them trade), and prints the figures.
"""

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.servers import AsgiServer  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings.dev")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every SQL query in memory
os.environ.setdefault("API_RATE_KEY", "1000000/min")
os.environ.setdefault("API_RATE_IP", "1000000/min")


def setup_data() -> list[tuple[str, str]]:
    """A fresh GOLD-BUCK market and two funded traders; return their (key id, secret)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from api import keys
    from ledger import services as ledger
    from markets import services as markets

    suffix = str(int(time.time()))[-6:]
    issuer = User.objects.create_user(f"bench-issuer-{suffix}")
    gold = ledger.currency_create(issuer=issuer, code=f"G{suffix}", name="Bench gold", decimals=3)
    buck = ledger.currency_create(issuer=issuer, code=f"B{suffix}", name="Bench buck", decimals=2)
    markets.market_create(user=issuer, base=gold, quote=buck)
    ledger.currency_mint(issuer=issuer, currency=gold, amount=10**12)
    ledger.currency_mint(issuer=issuer, currency=buck, amount=10**12)
    credentials = []
    for name in ("maker", "taker"):
        user = User.objects.create_user(f"bench-{name}-{suffix}")
        for currency in (gold, buck):
            ledger.transfer_create(sender=issuer, recipient=user, currency=currency, amount=10**11)
        key, secret = keys.key_create(user=user, name="bench", scopes=["read", "trade"])
        credentials.append((key.key_id, secret))
    return credentials, f"G{suffix}-B{suffix}"


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    credentials, symbol = setup_data()
    from api.keys import signature_for

    server = AsgiServer(env={"DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}).start()
    try:
        base = server.url
        with httpx.Client(base_url=base, timeout=10) as http:
            for _ in range(100):
                try:
                    http.get("/api/v1/time")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            latencies = []
            for index in range(args.orders):
                key_id, secret = credentials[index % 2]
                side = "sell" if index % 2 == 0 else "buy"
                body = (
                    f'{{"market": "{symbol}", "side": "{side}", "type": "limit", "quantity": "1.000", '
                    f'"price": "{25 + index % 7}.00"}}'
                ).encode()
                started = time.perf_counter()
                stamp = str(int(time.time() * 1000))
                signature = signature_for(secret=secret, timestamp=stamp, method="POST", path="/api/v1/orders", body=body)
                response = http.post(
                    "/api/v1/orders",
                    content=body,
                    headers={"X-API-Key": key_id, "X-API-Timestamp": stamp, "X-API-Signature": signature,
                             "Content-Type": "application/json"},
                )
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 201:
                    sys.exit(f"order {index} failed: {response.status_code} {response.text}")
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"orders placed over HTTP with signed keys: {len(latencies)} (one client, sequential)")
        print(f"median {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
