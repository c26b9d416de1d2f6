import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings")
django_application = get_wsgi_application()


def application(environ, start_response):
    """Django, with `Connection: close` (kam.security.UnreadBodyCloseMiddleware) handed to the server.

    WSGI (PEP 3333) forbids hop-by-hop headers from applications: gunicorn drops them silently and keeps
    the connection alive. Its start_response belongs to a response object whose force_close() makes it
    send `Connection: close` and close the socket, so that is called instead; a server without one gets
    the header as sent.
    """

    def start(status, headers, exc_info=None):
        close = any(name.lower() == "connection" and value.lower() == "close" for name, value in headers)
        force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
        if close and callable(force_close):
            force_close()
            headers = [(name, value) for name, value in headers if name.lower() != "connection"]
        return start_response(status, headers, exc_info)

    return django_application(environ, start)
