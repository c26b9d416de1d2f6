# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_ENV=production

WORKDIR /app
RUN useradd --create-home --uid 10001 kam

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=kam:kam . .
# collectstatic needs settings but no secrets or database: placeholders only for this build step.
RUN SECRET_KEY=build-only-placeholder-build-only-placeholder-build-only ALLOWED_HOSTS=build \
    python manage.py collectstatic --no-input

USER kam
EXPOSE 8000
CMD ["gunicorn", "kam.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
