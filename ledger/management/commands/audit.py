from django.core.management.base import BaseCommand, CommandError

from ledger.audit import run_all


class Command(BaseCommand):
    help = "Check every invariant of the ledger and the markets; exit non-zero on any violation."

    def add_arguments(self, parser):
        parser.add_argument(
            "--halt-markets",
            action="store_true",
            help="On any violation, halt every open market (they answer 503 market_halted) until staff resume them.",
        )

    def handle(self, *args, halt_markets=False, **options):
        failures = 0
        for title, violations in run_all():
            if violations:
                failures += len(violations)
                self.stdout.write(self.style.ERROR(f"FAIL {title}"))
                for violation in violations:
                    self.stdout.write(f"     {violation}")
            else:
                self.stdout.write(self.style.SUCCESS(f"ok   {title}"))
        if failures:
            if halt_markets:
                self._halt_all(f"Audit found {failures} violation(s); trading stops until staff resume it.")
            raise CommandError(f"{failures} violation(s) found")
        self.stdout.write("All invariants hold.")

    def _halt_all(self, reason: str) -> None:
        # A violation in one currency can come from any market, so the safe stop is all of them.
        from django.db import transaction

        from ledger.services import activity_record
        from markets.models import Market
        from markets.services import market_halt_locked

        for market_id in Market.objects.filter(status=Market.Status.OPEN).values_list("pk", flat=True):
            with transaction.atomic():
                market = market_halt_locked(market_id=market_id, halted=True, reason=reason)
                activity_record(actor=None, action="market_halt", subject=f"market:{market.symbol}", reason=reason)
        self.stdout.write(self.style.WARNING("All open markets are halted."))
