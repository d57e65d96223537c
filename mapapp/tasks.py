"""Celery tasks: thin, idempotent wrappers around services. They take ids, never model objects."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from . import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    # A locked or restarting database is transient: retry with exponential backoff (1 s, 2 s, ...).
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def dedupe_sighting(sighting_id: int) -> bool:
    """Process one sighting. Safe to run twice: the service claims the row with a conditional update."""
    return services.sighting_process(sighting_id=sighting_id)
