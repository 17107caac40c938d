"""The bank test, short: 32 clients through the REST API of two ASGI workers on PostgreSQL and Redis, with a
worker killed twice, one paused, Redis and PostgreSQL restarted. A fault may fail a request, never corrupt state.

The long run: `bench/bank_test.py --seconds 300`.
"""

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.reliability.bank import Bank, summary
from tests.servers import asgi_servers, database_url_for

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_no_money_is_lost_or_made_under_faults():
    env = {
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": settings.SECRET_KEY,  # API key secrets are derived from it
        "API_RATE_KEY": "100000/min",
        "API_RATE_IP": "100000/min",
    }
    with asgi_servers(2, env=env) as servers:
        bank = Bank(servers=servers)
        report = bank.run(seconds=30, redis_url=os.environ["REDIS_URL"])
    print("\n" + summary(report))
    assert report.violations == [] and report.bad_reads == []
    assert len(report.faults) == 5
    succeeded = sum(n for (op, status), n in report.operations.items() if 200 <= status < 300 and op != "read balances")
    assert succeeded > 200  # the run did real work, faults and all
    assert report.reads > 50
