"""A Jepsen-style bank test: concurrent clients move money through the REST API of two ASGI workers while faults
are injected (kill -9, SIGSTOP/SIGCONT, Redis restart, PostgreSQL restart); the invariants are checked throughout
and at the end, and every retried request must have had at most one effect.

Run from a test (tests/reliability/test_bank_faults.py, short) or `bench/bank_test.py` (long). It needs a database
that it may fill, and it restarts the machine's Redis and PostgreSQL: never point it at anything shared.
"""

import json
import logging
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from django.db import InterfaceError, OperationalError, connections

from api.keys import key_create, signature_for
from ledger import audit
from ledger import services as ledger
from ledger.models import SupplyChange, Transfer
from markets import services as markets
from markets.models import Order
from tests.conftest import make_user
from tests.servers import AsgiServer, RedisServer

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the summary

CONSISTENT_CHECKS = {  # each is one SQL statement, so it sees one snapshot even while money moves
    "1. per currency, all balances sum to zero",
    "2. every balance equals the sum of its postings",
    "3. no user balance below zero; 0 <= held <= balance",
    "3b. every issuance account holds minus (minted - burned)",
}
RETRY_STATUSES = {500, 502, 503, 504}


@dataclass
class Key:
    user_id: int
    key_id: str
    secret: str


@dataclass
class Report:
    operations: Counter = field(default_factory=Counter)  # (operation, final status)
    retried: int = 0
    faults: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    reads: int = 0
    bad_reads: list[str] = field(default_factory=list)
    idempotency_keys: dict[str, str] = field(default_factory=dict)  # key -> operation, for requests that were retried
    retried_with_effect: int = 0
    transport_errors: Counter = field(default_factory=Counter)

    def failed(self) -> Counter:
        return Counter({k: v for k, v in self.operations.items() if not 200 <= k[1] < 300})


class Bank:
    def __init__(self, *, servers: list[AsgiServer], users: int = 50, seed: int = 1):
        self.servers = servers
        self.rng = random.Random(seed)
        self.report = Report()
        self.stop = threading.Event()
        self._setup(users)

    # --- the world ----------------------------------------------------------------------------------------------

    def _setup(self, user_count: int) -> None:
        issuers = [make_user(f"issuer{i}") for i in range(3)]
        self.currencies = [
            ledger.currency_create(issuer=issuer, code=code, name=code.title(), decimals=decimals)
            for issuer, (code, decimals) in zip(issuers, (("AAA", 2), ("BBB", 3), ("CCC", 1)), strict=True)
        ]
        users = [make_user(f"client{i}") for i in range(user_count)]
        for currency in self.currencies:
            ledger.currency_mint(issuer=currency.issuer, currency=currency, amount=10**9)
            for user in users:
                ledger.transfer_create(sender=currency.issuer, recipient=user, currency=currency, amount=10**7)
        a, b, c = self.currencies
        self.markets = [markets.market_create(user=issuers[0], base=base, quote=quote, taker_fee_bps=10)
                        for base, quote in ((a, b), (b, c), (a, c))]
        self.keys = [self._key(user, ["read", "trade", "transfer"]) for user in users]
        self.issuer_keys = {c.code: self._key(c.issuer, ["read", "issue"]) for c in self.currencies}
        self.usernames = {user.pk: user.username for user in users}

    @staticmethod
    def _key(user, scopes) -> Key:
        key, secret = key_create(user=user, name="bank", scopes=scopes)
        return Key(user.pk, key.key_id, secret)

    # --- requests -----------------------------------------------------------------------------------------------

    def call(
        self, client: httpx.Client, key: Key, method: str, path: str, payload=None, *, operation: str,
        idempotency_key: str | None = None,
    ) -> tuple[int, dict]:
        """Send a signed request; retry transport errors and 5xx with the same Idempotency-Key, on either worker."""
        body = json.dumps(payload).encode() if payload is not None else b""
        if method == "POST":
            idempotency_key = idempotency_key or uuid.uuid4().hex
        for attempt in range(8):
            if attempt and self.stop.is_set():
                break  # the run is over: leave this one unfinished (it counts under its last status)
            server = self.servers[(attempt + self.rng.randrange(2)) % len(self.servers)]
            stamp = str(int(time.time() * 1000))
            headers = {
                "X-API-Key": key.key_id,
                "X-API-Timestamp": stamp,
                "X-API-Signature": signature_for(secret=key.secret, timestamp=stamp, method=method, path=path, body=body),
                "Content-Type": "application/json",
            }
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            try:
                response = client.request(method, server.url + path, content=body, headers=headers, timeout=5)
            except httpx.TransportError as error:
                status = 599
                self.report.transport_errors[f"{type(error).__name__} from worker {self.servers.index(server) + 1}"] += 1
            else:
                status = response.status_code
                in_progress = status == 409 and response.json().get("error", {}).get("code") == "idempotency_key_in_progress"
                if status not in RETRY_STATUSES and not in_progress:
                    if attempt:
                        self.report.retried += 1
                        if idempotency_key:
                            self.report.idempotency_keys[idempotency_key] = operation
                    self.report.operations[(operation, status)] += 1
                    return status, response.json() if response.content else {}
            time.sleep(0.2 * (attempt + 1))
        self.report.operations[(operation, status)] += 1
        if idempotency_key:
            self.report.idempotency_keys[idempotency_key] = operation
        return status, {}

    # --- the clients ----------------------------------------------------------------------------------------------

    def client_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client() as client:
            while not self.stop.is_set():
                key = rng.choice(self.keys)
                roll = rng.random()
                if roll < 0.05:
                    currency = rng.choice(self.currencies)
                    once = uuid.uuid4().hex  # the memo tells, afterwards, how often this mint took effect
                    self.call(client, self.issuer_keys[currency.code], "POST", f"/api/v1/currencies/{currency.code}/mint",
                              {"amount": currency.format(rng.randint(1, 10**5)), "memo": once}, operation="mint",
                              idempotency_key=once)
                elif roll < 0.30:
                    currency = rng.choice(self.currencies)
                    recipient = rng.choice([k for k in self.keys if k is not key])
                    self.call(client, key, "POST", "/api/v1/transfers",
                              {"recipient": self.usernames[recipient.user_id], "currency": currency.code,
                               "amount": currency.format(rng.randint(1, 3 * 10**6))}, operation="transfer")
                elif roll < 0.65:
                    market = rng.choice(self.markets)
                    price = 10 * market.tick * rng.randint(8, 12)
                    once = uuid.uuid4().hex
                    self.call(client, key, "POST", "/api/v1/orders",
                              {"market": market.symbol, "side": rng.choice(["buy", "sell"]), "type": "limit",
                               "quantity": market.base.format(market.lot * rng.randint(1, 30)),
                               "price": market.quote.format(price), "client_order_id": once},
                              operation="limit order", idempotency_key=once)
                elif roll < 0.75:
                    market = rng.choice(self.markets)
                    once = uuid.uuid4().hex
                    order = {"market": market.symbol, "type": "market", "client_order_id": once}
                    if rng.random() < 0.5:
                        order |= {"side": "sell", "quantity": market.base.format(market.lot * rng.randint(1, 10))}
                    else:
                        order |= {"side": "buy", "quote_budget": market.quote.format(rng.randint(10**3, 10**5))}
                    self.call(client, key, "POST", "/api/v1/orders", order, operation="market order", idempotency_key=once)
                elif roll < 0.90:
                    status, page = self.call(client, key, "GET", "/api/v1/orders?status=open&limit=5", operation="list orders")
                    if status == 200 and page.get("results"):
                        order = rng.choice(page["results"])
                        self.call(client, key, "DELETE", f"/api/v1/orders/{order['id']}", operation="cancel")
                else:
                    self.read_balances(client, key)

    def reader_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client() as client:
            while not self.stop.is_set():
                self.read_balances(client, rng.choice(self.keys))

    def read_balances(self, client, key: Key) -> None:
        status, balances = self.call(client, key, "GET", "/api/v1/balances", operation="read balances")
        if status != 200:
            return
        self.report.reads += 1
        for row in balances.get("results", balances) if isinstance(balances, dict) else balances:
            if row["balance"].startswith("-") or row["held"].startswith("-") or row["available"].startswith("-"):
                self.report.bad_reads.append(f"{key.user_id}: {row}")

    # --- checks -----------------------------------------------------------------------------------------------

    def checker_loop(self) -> None:
        while not self.stop.wait(2):
            try:
                for title, violations in audit.run_all(only=CONSISTENT_CHECKS):
                    self.report.violations += [f"{title}: {v}" for v in violations]
            except (OperationalError, InterfaceError):
                connections.close_all()  # the database is restarting: check again next time
            finally:
                connections.close_all()

    def final_checks(self) -> None:
        connections.close_all()
        for title, violations in audit.run_all():
            self.report.violations += [f"{title}: {v}" for v in violations]
        # Every retried request used one key throughout; transfers carry it, mints in their memo, orders as their
        # client order id. Each may have taken effect once (or not at all, if every attempt failed), never twice.
        retried = list(self.report.idempotency_keys)
        effects = Counter(Transfer.objects.filter(idempotency_key__in=retried).values_list("idempotency_key", flat=True))
        effects += Counter(SupplyChange.objects.filter(memo__in=retried).values_list("memo", flat=True))
        effects += Counter(Order.objects.filter(client_order_id__in=retried).values_list("client_order_id", flat=True))
        self.report.violations += [f"retried request {k} took effect {n} times" for k, n in effects.items() if n > 1]
        self.report.retried_with_effect = len(effects)

    # --- faults -------------------------------------------------------------------------------------------------

    def fault_loop(self, duration: float, redis_url: str) -> None:
        plan = [
            (0.15, "kill -9 worker 1 and start it again", self._kill_and_restart, 0),
            (0.30, "SIGSTOP worker 2 for 3 s, then SIGCONT", self._pause, 1),
            (0.45, "restart Redis", self._restart_redis, None),
            (0.60, "restart PostgreSQL", self._restart_postgres, None),
            (0.75, "kill -9 worker 2 and start it again", self._kill_and_restart, 1),
        ]
        started = time.monotonic()
        for at, name, action, argument in plan:
            if self.stop.wait(max(0, started + at * duration - time.monotonic())):
                return
            action(argument)
            self.report.faults.append(name)

    def _kill_and_restart(self, index: int) -> None:
        server = self.servers[index]
        server.kill()
        time.sleep(1)
        server.start()

    def _pause(self, index: int) -> None:
        self.servers[index].pause()
        time.sleep(3)
        self.servers[index].resume()

    @staticmethod
    def _restart_redis(_) -> None:
        RedisServer(6379).restart()

    @staticmethod
    def _restart_postgres(_) -> None:
        version = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True).stdout.split()[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
                       check=True, capture_output=True)
        _wait_for(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0)
        # This process's pool may be backing off after failing to reconnect while the server was down: start a
        # fresh one, as a restarted worker would.
        connections["default"].close_pool()

    # --- the run ------------------------------------------------------------------------------------------------

    def run(self, *, seconds: float, clients: int = 32, readers: int = 4, redis_url: str = "") -> Report:
        threads = [threading.Thread(target=self.client_loop, args=(i,)) for i in range(clients)]
        threads += [threading.Thread(target=self.reader_loop, args=(1000 + i,)) for i in range(readers)]
        threads.append(threading.Thread(target=self.checker_loop))
        threads.append(threading.Thread(target=self.fault_loop, args=(seconds, redis_url)))
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(60)
        self.final_checks()
        return self.report


def _wait_for(ready, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("a restarted service did not come back")
        time.sleep(0.2)


def summary(report: Report) -> str:
    done = sum(report.operations.values())
    lines = [f"operations: {done} ({report.retried} needed a retry; {len(report.idempotency_keys)} retried money "
             f"requests, {report.retried_with_effect} of them took effect once, none twice); "
             f"balance reads checked: {report.reads}",
             f"faults injected: {len(report.faults)}: {'; '.join(report.faults)}",
             f"violations: {len(report.violations) + len(report.bad_reads)}"]
    lines += [f"  {v}" for v in (report.violations + report.bad_reads)[:20]]
    lines.append(f"transport errors on the way (retried): {dict(report.transport_errors)}")
    lines.append("by operation and final status (599: no answer after every retry):")
    lines += [f"  {op:<14} {status}: {n}" for (op, status), n in sorted(report.operations.items())]
    return "\n".join(lines)

