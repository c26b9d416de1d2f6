"""The REST API for scoring (mounted under /api/v1/ by kam/api_urls.py)."""
