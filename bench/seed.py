"""Seed a benchmark exchange with a deep book and a long history in seconds, in SQL (generate_series), not
through order_place — yet consistent with the schema and every invariant `manage.py audit` checks:

- resting orders sit far from where the benchmarks trade (bids 10.10-90.00, asks 110.00-189.90 around 100.00)
  so they never match; they belong to owners funded by real transfers from the issuer (a journal entry, two
  postings and a Transfer row each), whose `held` is exactly what their open orders reserve;
- past trades are real trades to the ledger: a filled maker and taker order, a journal entry with both legs
  (four postings), the trade row, the two traders' balances moved by the same amounts, and one-minute candles
  rolled up from the trades.

Foreign keys are checked once, in bulk, after the seed (foreign_keys_broken(), as ALTER TABLE ... VALIDATE
CONSTRAINT does) instead of row by row at commit: the seeding transactions run with session_replication_role =
replica, which skips the foreign-key triggers (and only triggers: checks and unique indexes still hold) and made
the commit of a million trades take minutes. Ids are assigned in one block per table (explicit ids from max(id) + 1, then the identity sequence is moved past
them), which is safe because a benchmark database has no other writer while it is seeded. Call each function
outside any transaction; each one is a transaction of its own.
"""

from datetime import datetime

from django.db import connection, transaction

RESTING_PER_OWNER = 200  # markets.services.MAX_OPEN_ORDERS_PER_MARKET: owners look like real users
OWNER_FUNDS = 10**9  # minor units of each currency per owner: far more than 200 orders can reserve
FAR_LEVELS = 800  # price levels per side the resting orders spread over
SEEDED_TABLES = ("auth_user", "ledger_account", "ledger_journalentry", "ledger_posting", "ledger_transfer",
                 "markets_order", "markets_booklevel", "markets_trade", "markets_candle")


def _bulk_session(cursor) -> None:
    """For this transaction: no waiting for the WAL flush, foreign keys checked later by foreign_keys_broken()."""
    cursor.execute("SET LOCAL synchronous_commit = off")
    cursor.execute("SET LOCAL session_replication_role = replica")


def _max_id(cursor, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    return cursor.fetchone()[0]


def _move_sequence(cursor, table: str) -> None:
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


def _market(cursor, market_id: int) -> dict:
    cursor.execute(
        """SELECT m.base_id, m.quote_id, m.tick, m.lot, c.decimals
           FROM markets_market m JOIN ledger_currency c ON c.id = m.base_id WHERE m.id = %s""",
        [market_id],
    )
    base_id, quote_id, tick, lot, decimals = cursor.fetchone()
    return {"id": market_id, "base": base_id, "quote": quote_id, "tick": tick, "lot": lot, "scale": 10**decimals}


def _account(cursor, user_id: int, currency_id: int) -> int:
    cursor.execute(
        "SELECT id FROM ledger_account WHERE user_id = %s AND currency_id = %s AND kind = 'user'", [user_id, currency_id]
    )
    return cursor.fetchone()[0]


@transaction.atomic
def resting_orders(*, market_id: int, issuer_id: int, count: int) -> int:
    """`count` open limit orders in the market, far from 100.00, half bids and half asks, spread over owners of
    RESTING_PER_OWNER orders each; return how many owners were created."""
    if count <= 0:
        return 0
    owners = -(-count // RESTING_PER_OWNER)
    with connection.cursor() as cursor:
        _bulk_session(cursor)
        m = _market(cursor, market_id)
        user0, account0, entry0, posting0, transfer0, order0 = (
            _max_id(cursor, t) for t in ("auth_user", "ledger_account", "ledger_journalentry", "ledger_posting",
                                         "ledger_transfer", "markets_order")
        )
        issuer_accounts = {c: _account(cursor, issuer_id, c) for c in (m["base"], m["quote"])}
        cursor.execute(
            """INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
                                      is_active, date_joined)
               SELECT %s + n, '!', false, 'resting' || (%s + n), '', '', '', false, true, now()
               FROM generate_series(1, %s) n""",
            [user0, user0, owners],
        )
        # Two accounts per owner (k = 1 base, k = 2 quote), each funded by one transfer from the issuer.
        for sql in (
            """INSERT INTO ledger_account (id, kind, balance, held, user_id, currency_id)
               SELECT %(a0)s + 2 * (n - 1) + k, 'user', %(funds)s, 0, %(u0)s + n,
                      CASE k WHEN 1 THEN %(base)s ELSE %(quote)s END
               FROM generate_series(1, %(owners)s) n, generate_series(1, 2) k""",
            """INSERT INTO ledger_journalentry (id, kind, created_at)
               SELECT %(e0)s + i, 'transfer', now() FROM generate_series(1, 2 * %(owners)s) i""",
            """INSERT INTO ledger_transfer (id, amount, memo, idempotency_key, created_at, currency_id, entry_id,
                                            recipient_id, sender_id)
               SELECT %(t0)s + 2 * (n - 1) + k, %(funds)s, 'benchmark seed', NULL, now(),
                      CASE k WHEN 1 THEN %(base)s ELSE %(quote)s END, %(e0)s + 2 * (n - 1) + k, %(u0)s + n, %(issuer)s
               FROM generate_series(1, %(owners)s) n, generate_series(1, 2) k""",
            """INSERT INTO ledger_posting (id, amount, account_id, entry_id)
               SELECT %(p0)s + 2 * (i - 1) + leg,
                      CASE leg WHEN 1 THEN -%(funds)s ELSE %(funds)s END,
                      CASE leg WHEN 2 THEN %(a0)s + i
                               ELSE CASE i %% 2 WHEN 1 THEN %(issuer_base)s ELSE %(issuer_quote)s END END,
                      %(e0)s + i
               FROM generate_series(1, 2 * %(owners)s) i, generate_series(1, 2) leg""",
            """UPDATE ledger_account SET balance = balance - %(funds)s::bigint * %(owners)s
               WHERE id IN (%(issuer_base)s, %(issuer_quote)s)""",
            # Odd g bids, even g asks; each owner gets both. Quantities 1-5 lots.
            """INSERT INTO markets_order (id, client_order_id, side, type, time_in_force, post_only, self_trade, price,
                                          quantity, quote_budget, filled_quantity, filled_quote, fees_paid, reserved,
                                          status, reason, created_at, updated_at, market_id, user_id)
               SELECT %(o0)s + g, NULL, side, 'limit', 'gtc', false, 'cancel_resting', price, qty, NULL, 0, 0, 0,
                      CASE side WHEN 'buy' THEN qty * price / %(scale)s ELSE qty END,
                      'open', '', created, created, %(market)s, %(u0)s + 1 + (g - 1) %% %(owners)s
               FROM (
                 SELECT g, CASE g %% 2 WHEN 1 THEN 'buy' ELSE 'sell' END AS side,
                        CASE g %% 2 WHEN 1 THEN 9000 - %(tick)s * ((g / 2) %% %(levels)s)
                                    ELSE 11000 + %(tick)s * ((g / 2) %% %(levels)s) END AS price,
                        %(lot)s * (1 + (g / 2) %% 5) AS qty,
                        now() - interval '1 second' * (%(count)s - g) AS created
                 FROM generate_series(1, %(count)s::bigint) g
               ) o""",
            """UPDATE ledger_account a SET held = a.held + r.total
               FROM (SELECT user_id, side, SUM(reserved) AS total FROM markets_order WHERE id > %(o0)s
                     GROUP BY user_id, side) r
               WHERE a.kind = 'user' AND a.user_id = r.user_id
                 AND a.currency_id = CASE r.side WHEN 'buy' THEN %(quote)s ELSE %(base)s END""",
            # The book levels of the new orders, as the settlement keeps them (markets.models.BookLevel).
            """INSERT INTO markets_booklevel (market_id, side, price, quantity)
               SELECT market_id, side, price, SUM(quantity - filled_quantity) FROM markets_order WHERE id > %(o0)s
               GROUP BY market_id, side, price
               ON CONFLICT (market_id, side, price) DO UPDATE
               SET quantity = markets_booklevel.quantity + excluded.quantity""",
        ):
            cursor.execute(sql, {
                "u0": user0, "a0": account0, "e0": entry0, "p0": posting0, "t0": transfer0, "o0": order0,
                "owners": owners, "count": count, "funds": OWNER_FUNDS, "issuer": issuer_id,
                "issuer_base": issuer_accounts[m["base"]], "issuer_quote": issuer_accounts[m["quote"]],
                "market": market_id, "base": m["base"], "quote": m["quote"], "tick": m["tick"], "lot": m["lot"],
                "scale": m["scale"], "levels": FAR_LEVELS,
            })
        for table in ("auth_user", "ledger_account", "ledger_journalentry", "ledger_posting", "ledger_transfer",
                      "markets_order"):
            _move_sequence(cursor, table)
    return owners


@transaction.atomic
def past_trades(*, market_ids: list[int], user_a: int, user_b: int, count: int, start: datetime, end: datetime) -> None:
    """`count` trades between two funded users, evenly spread from `start` to `end` with ids in time order, taking
    turns over the markets (which share their quote currency and steps); prices wander 99.80-100.20 (ticks of 0.10
    at 2 decimals: a slow wave plus noise). Candles come from candles()."""
    if count <= 0:
        return
    with connection.cursor() as cursor:
        _bulk_session(cursor)
        markets = [_market(cursor, market_id) for market_id in market_ids]
        m = markets[0]
        assert all((x["quote"], x["tick"], x["lot"], x["scale"]) == (m["quote"], m["tick"], m["lot"], m["scale"])
                   for x in markets), "the markets must share their quote currency and steps"
        order0, entry0, posting0, trade0 = (
            _max_id(cursor, t) for t in ("markets_order", "ledger_journalentry", "ledger_posting", "markets_trade")
        )
        # Each market with the two users' base accounts in it; the quote accounts are shared.
        cursor.execute("CREATE TEMP TABLE seed_market (idx int, market_id bigint, ab bigint, bb bigint) ON COMMIT DROP")
        for index, x in enumerate(markets):
            cursor.execute("INSERT INTO seed_market VALUES (%s, %s, %s, %s)",
                           [index, x["id"], _account(cursor, user_a, x["base"]), _account(cursor, user_b, x["base"])])
        params = {
            "o0": order0, "e0": entry0, "p0": posting0, "t0": trade0, "count": count, "start": start, "end": end,
            "markets": len(markets), "tick": m["tick"], "lot": m["lot"], "scale": m["scale"], "a": user_a,
            "b": user_b, "aq": _account(cursor, user_a, m["quote"]), "bq": _account(cursor, user_b, m["quote"]),
        }
        # One row per trade: its market (in turn), then, counted within that market (h), who buys (A every other
        # trade), who takes (the buyer every third), price, quantity and the exact quote amount.
        cursor.execute(
            """CREATE TEMP TABLE seed_trade ON COMMIT DROP AS
               SELECT g, t, sm.market_id AS market, sm.ab, sm.bb, price, qty, qty * price / %(scale)s AS quote,
                      a_buys, taker_buys
               FROM (
                 SELECT g, (g - 1) %% %(markets)s AS idx,
                        %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) * g / %(count)s AS t,
                        10000 + %(tick)s * (round(10 * sin(h / 3000.0))::int + (h * 7919) %% 11 - 5) AS price,
                        %(lot)s * (1 + (h * 31) %% 5) AS qty,
                        h %% 2 = 0 AS a_buys, h %% 3 = 0 AS taker_buys
                 FROM (SELECT g, (g - 1) / %(markets)s AS h FROM generate_series(1, %(count)s::bigint) g) n
               ) s JOIN seed_market sm ON sm.idx = s.idx""",
            params,
        )
        for sql in (
            # Order 2g-1 is the maker, 2g the taker.
            """INSERT INTO markets_order (id, client_order_id, side, type, time_in_force, post_only, self_trade, price,
                                          quantity, quote_budget, filled_quantity, filled_quote, fees_paid, reserved,
                                          status, reason, created_at, updated_at, market_id, user_id)
               SELECT %(o0)s + 2 * g - 2 + role, NULL, side, 'limit', 'gtc', false, 'cancel_resting', price, qty,
                      NULL, qty, quote, 0, 0, 'filled', '', t, t, market,
                      CASE WHEN (side = 'buy') = a_buys THEN %(a)s ELSE %(b)s END
               FROM (
                 SELECT s.*, role, CASE WHEN (role = 2) = taker_buys THEN 'buy' ELSE 'sell' END AS side
                 FROM seed_trade s, generate_series(1, 2) role
               ) o""",
            """INSERT INTO ledger_journalentry (id, kind, created_at) SELECT %(e0)s + g, 'trade', t FROM seed_trade""",
            # Legs: buyer pays quote, seller receives it, seller gives base, buyer receives it.
            """INSERT INTO ledger_posting (id, amount, account_id, entry_id)
               SELECT %(p0)s + 4 * (g - 1) + leg,
                      CASE leg WHEN 1 THEN -quote WHEN 2 THEN quote WHEN 3 THEN -qty ELSE qty END,
                      CASE leg WHEN 1 THEN CASE WHEN a_buys THEN %(aq)s ELSE %(bq)s END
                               WHEN 2 THEN CASE WHEN a_buys THEN %(bq)s ELSE %(aq)s END
                               WHEN 3 THEN CASE WHEN a_buys THEN bb ELSE ab END
                               ELSE CASE WHEN a_buys THEN ab ELSE bb END END,
                      %(e0)s + g
               FROM seed_trade, generate_series(1, 4) leg""",
            """INSERT INTO markets_trade (id, price, quantity, quote_amount, taker_side, buyer_fee, seller_fee,
                                          created_at, buyer_id, entry_id, maker_order_id, market_id, seller_id,
                                          taker_order_id)
               SELECT %(t0)s + g, price, qty, quote, CASE WHEN taker_buys THEN 'buy' ELSE 'sell' END, 0, 0, t,
                      CASE WHEN a_buys THEN %(a)s ELSE %(b)s END, %(e0)s + g, %(o0)s + 2 * g - 1, market,
                      CASE WHEN a_buys THEN %(b)s ELSE %(a)s END, %(o0)s + 2 * g
               FROM seed_trade""",
            """UPDATE ledger_account a SET balance = a.balance + d.delta
               FROM (SELECT account_id, SUM(amount) AS delta FROM ledger_posting WHERE id > %(p0)s
                     GROUP BY account_id) d
               WHERE a.id = d.account_id""",
        ):
            cursor.execute(sql, params)
        for table in ("markets_order", "ledger_journalentry", "ledger_posting", "markets_trade"):
            _move_sequence(cursor, table)


@transaction.atomic
def candles(*, market_ids: list[int]) -> None:
    """One-minute candles of the markets, rolled up from their trades (replacing any there were)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM markets_candle WHERE market_id = ANY(%s)", [market_ids])
        cursor.execute(
            """INSERT INTO markets_candle (market_id, start, open, high, low, close, volume, quote_volume, trades)
               SELECT market_id, date_trunc('minute', created_at), (array_agg(price ORDER BY id))[1], MAX(price),
                      MIN(price), (array_agg(price ORDER BY id DESC))[1], SUM(quantity), SUM(quote_amount), COUNT(*)
               FROM markets_trade WHERE market_id = ANY(%s)
               GROUP BY market_id, date_trunc('minute', created_at)""",
            [market_ids],
        )


def foreign_keys_broken() -> list[str]:
    """Every single-column foreign key of the seeded tables, checked over the whole table in one query each;
    return the ones with rows that point nowhere."""
    broken = []
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.conname, c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, af.attname
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
               JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
               WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND c.conrelid::regclass::text = ANY(%s)""",
            [list(SEEDED_TABLES)],
        )
        for name, table, column, parent, key in cursor.fetchall():
            cursor.execute(
                f"""SELECT COUNT(*) FROM {table} t WHERE t.{column} IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = t.{column})"""
            )
            orphans = cursor.fetchone()[0]
            if orphans:
                broken.append(f"{name}: {orphans} rows of {table}.{column} point to no {parent}.{key}")
    return broken


def vacuum_analyze() -> None:
    """What autovacuum would have done by the time a real exchange had this much data: fresh statistics and
    visibility maps (index-only scans). Needs autocommit, so call it outside any transaction."""
    with connection.cursor() as cursor:
        for table in SEEDED_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Write the seed's dirty pages out now, so the figures that follow are not taken during that write-back.
        cursor.execute("CHECKPOINT")
