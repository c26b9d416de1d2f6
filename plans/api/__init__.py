"""The REST API for plans (mounted under /api/v1/ by kam/api_urls.py)."""
