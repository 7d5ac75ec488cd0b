"""Celery tasks: thin wrappers around the services, for any Celery app (``shared_task``)."""

from celery import shared_task

from . import sweep as sweep_service


@shared_task(name="oscar_recovery.sweep", ignore_result=False)
def sweep() -> dict:
    result = sweep_service.run_sweep()
    return {"abandoned": result.abandoned, "expired": result.expired, "batches": result.batches}
