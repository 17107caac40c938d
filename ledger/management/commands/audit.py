from django.core.management.base import BaseCommand, CommandError

from ledger.audit import run_all


class Command(BaseCommand):
    help = "Check every invariant of the ledger and the markets; exit non-zero on any violation."

    def handle(self, *args, **options):
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
            raise CommandError(f"{failures} violation(s) found")
        self.stdout.write("All invariants hold.")
