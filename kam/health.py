from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Liveness for the load balancer and docker-compose: the process answers and the database does too."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok"})
