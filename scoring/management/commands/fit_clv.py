import datetime
import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from scoring import clv, selectors


class Command(BaseCommand):
    help = "Fit the BG/NBD and Gamma-Gamma CLV models to the order history and print their parameters."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args, as_of=None, **options):
        as_of = as_of or timezone.localdate()
        summary = selectors.purchase_summary(selectors.order_totals(as_of), as_of)
        result = clv.estimate_clv_from_summary(summary)
        params = result.params_dict()
        if options["json"]:
            self.stdout.write(json.dumps(params))
            return
        self.stdout.write(
            f"Accounts with orders up to {as_of}: {params['accounts']}  (method: {params['method']})"
        )
        if result.fallback_reason:
            self.stdout.write(self.style.WARNING(f"Fallback: {result.fallback_reason}"))
        if params["bgnbd"]:
            bg = params["bgnbd"]
            self.stdout.write(
                f"BG/NBD       r={bg['r']:.4f}  alpha={bg['alpha']:.4f} (weeks)  a={bg['a']:.4f}  b={bg['b']:.4f}"
                f"  log-likelihood={bg['log_likelihood']:.2f}"
            )
        if params["gamma_gamma"]:
            gg = params["gamma_gamma"]
            self.stdout.write(
                f"Gamma-Gamma  p={gg['p']:.4f}  q={gg['q']:.4f}  gamma={gg['gamma']:.4f}"
                f"  log-likelihood={gg['log_likelihood']:.2f}"
            )
