"""Beat tasks of the affiliate program: releasing held commissions, the monthly payout run."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from affiliates import services
from audit.services import Actor


@shared_task(name="affiliates.release_commissions")
def release_commissions_task() -> int:
    return services.commissions_release(now=timezone.now())


@shared_task(name="affiliates.payout_run")
def payout_run_task(period: str | None = None) -> int:
    """The payout run for `period` (YYYY-MM), by default the month before this one."""
    now = timezone.now()
    chosen = services.period_parse(period) if period else services.previous_period(now)
    actor = Actor.system("monthly payout run")
    return len(services.payout_run(period=chosen, actor=actor, now=now).created)
