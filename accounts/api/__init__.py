"""The REST API for accounts (mounted under /api/v1/ by kam/api_urls.py)."""
