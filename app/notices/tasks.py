"""The queue's two notification tasks: deliver new notifications' mail, and the scheduler's run."""

from __future__ import annotations

from celery import shared_task
from flask import current_app


@shared_task(name="lms.deliver_mail", acks_late=True, ignore_result=True)
def deliver_mail(ids: list[int]) -> None:
    """Mail these notifications now (what fails is tried again by the scheduler, with backoff)."""
    from .delivery import deliver

    try:
        deliver(ids)
    except Exception:  # noqa: BLE001 - never the action's failure: the notifications stay pending
        current_app.logger.exception("notification mail %s: delivery stopped", ids)


@shared_task(name="lms.notify_scan", ignore_result=True)
def notify_scan() -> None:
    """Write the reminders and digests that are due, and deliver what waits (Celery beat's schedule)."""
    from .schedule import run

    outcome = run()
    current_app.logger.info("notifications: %s", outcome)
