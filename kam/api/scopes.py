"""What an API key may do. The vocabulary of the API's permissions, shared by the key model and every viewset."""

from django.db import models


class ApiScope(models.TextChoices):
    READ = "read", "Read accounts, scores and the relationship record"
    WRITE_ACCOUNTS = "write_accounts", "Create and update accounts"
    WRITE_ORDERS = "write_orders", "Push orders"
    WRITE_VISITS = "write_visits", "Log visits and acknowledge cadence alerts"
    RUN_SCORING = "run_scoring", "Start a scoring run (a manager's key only)"
