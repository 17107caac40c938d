"""The long bank test with faults: the same as tests/reliability/test_bank_faults.py, for as long as you like.

    .venv/bin/python bench/bank_test.py [--seconds 300] [--clients 32] [--database banktest]

It recreates the PostgreSQL database named, serves it with two uvicorn workers, and restarts this machine's Redis
and PostgreSQL during the run: use it on a machine of your own, never a shared one. Needs REDIS_URL (default
redis://127.0.0.1:6379/0).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--database", default="banktest")
    args = parser.parse_args()

    psql = ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"]
    subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'], check=True)
    subprocess.run([*psql, f'CREATE DATABASE "{args.database}"'], check=True)
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["DJANGO_SETTINGS_MODULE"] = "exchange.settings.test"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.reliability.bank import Bank, summary
    from tests.servers import asgi_servers

    call_command("migrate", verbosity=0)
    env = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": settings.SECRET_KEY,
        "API_RATE_KEY": "1000000/min",
        "API_RATE_IP": "1000000/min",
    }
    with asgi_servers(2, env=env) as servers:
        report = Bank(servers=servers).run(seconds=args.seconds, clients=args.clients, redis_url=env["REDIS_URL"])
    print(summary(report))
    sys.exit(1 if report.violations or report.bad_reads else 0)


if __name__ == "__main__":
    main()
