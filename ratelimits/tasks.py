"""Periodic upkeep of the rate limits' database buckets."""

import time

from celery import shared_task

from ratelimits.buckets import buckets_purge


@shared_task(name="ratelimits.purge_buckets")
def buckets_purge_task() -> int:
    return buckets_purge(now=time.time())
