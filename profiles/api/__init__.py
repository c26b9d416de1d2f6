"""The REST API for profiles (mounted under /api/v1/ by kam/api_urls.py)."""
