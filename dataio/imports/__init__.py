"""Imports of accounts, orders, buying influencers and visits from CSV or Excel files (issue 7).

parsing.py reads files; base.py holds the shared vectorised checks; one module per kind checks and writes
its rows; service.py is the single code path used by the browser, the Celery task and the shell commands.
"""
