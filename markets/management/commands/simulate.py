import time

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from exchange.errors import DomainError
from ledger.money import parse_amount
from markets.selectors import market_get
from markets.simulate import simulate_history


class Command(BaseCommand):
    help = "Fill a fresh market with a realistic trading history (thousands of trades over days) in seconds."

    def add_arguments(self, parser):
        parser.add_argument("market", help="Symbol, e.g. GOLD-BUCK")
        parser.add_argument("--between", nargs=2, default=["alice", "bob"], metavar="USERNAME")
        parser.add_argument("--price", required=True, help="Starting price as a decimal string, e.g. 25.00")
        parser.add_argument("--trades", type=int, default=5000)
        parser.add_argument("--days", type=float, default=3)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, market, between, price, trades, days, seed, **options):
        try:
            target = market_get(symbol=market)
            users = [User.objects.get(username=name) for name in between]
            start_price = parse_amount(price, target.quote.decimals, field="price")
            started = time.perf_counter()
            written = simulate_history(
                market=target, user_a=users[0], user_b=users[1], start_price=start_price, trades=trades, days=days,
                seed=seed,
            )
        except (DomainError, User.DoesNotExist) as error:
            raise CommandError(str(error)) from None
        took = time.perf_counter() - started
        self.stdout.write(f"{market}: {written} trades over {days:g} days written in {took:.1f} s")
