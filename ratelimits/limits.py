"""The limits the platform applies: each partner's API budget, and sign-in challenges per client address."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from builder_platform import metrics
from builder_platform.client_addresses import client_ip
from ratelimits.buckets import Take, bucket_take
from ratelimits.models import PartnerRateLimit

RATE_LIMITED_CODE = "rate_limit_exceeded"
# Where the partner API's take is kept on the request, for the headers of whatever answer follows.
TAKE_ATTRIBUTE = "partner_rate_limit_take"


def partner_limit(*, partner: Any) -> tuple[int, int]:
    """(requests per second, burst) for this partner: its own override, else the settings.

    The API key lookup loads the override with the key's partner (select_related, one query for both),
    so this reads no row of its own on a partner request; a partner loaded otherwise reads it here.
    """
    try:
        override = partner.rate_limit
    except PartnerRateLimit.DoesNotExist:
        return settings.PARTNER_API_RATE, settings.PARTNER_API_BURST
    return override.rate_per_second, override.burst


def partner_bucket_key(partner_id: int) -> str:
    return f"partner:{partner_id}"


def sign_in_challenge_bucket_key(address: str) -> str:
    return f"sign-in-challenge:{address}"


def sign_in_challenge_take(*, request: HttpRequest, now: float) -> Take:
    per_minute = settings.SIGN_IN_CHALLENGES_PER_IP_PER_MINUTE
    key = sign_in_challenge_bucket_key(client_ip(request.META))
    return bucket_take(key=key, rate=per_minute / 60, burst=per_minute, now=now)


def rate_limit_headers(take: Take) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(take.limit),
        "X-RateLimit-Remaining": str(take.remaining),
        "X-RateLimit-Reset": str(take.reset_seconds),
    }


class PartnerRateThrottle(BaseThrottle):
    """DRF throttle: one token of the partner's bucket per authenticated request, else 429 in the error
    shape with Retry-After (raised here, so the sentence says the partner's own figures)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        partner = getattr(request.auth, "partner", None)
        if partner is None or not settings.RATE_LIMITS_ENABLED:
            return True  # unauthenticated requests are refused by the permission check anyway
        rate, burst = partner_limit(partner=partner)
        take = bucket_take(key=partner_bucket_key(partner.pk), rate=rate, burst=burst, now=time.time())
        setattr(request._request, TAKE_ATTRIBUTE, take)
        metrics.partner_api_rate_remaining_set(partner_id=str(partner.pk), remaining=take.remaining)
        if not take.allowed:
            # DRF's Throttled, answered as rate_limit_exceeded with Retry-After by the exception handler
            # (builder_platform.api is not imported here: DRF imports this class while loading its views).
            raise Throttled(
                wait=take.retry_after_seconds,
                detail=f"Too many requests: this partner may send {burst} requests at once and {rate} a "
                "second after that.",
            )
        return True


class RateLimitHeadersMiddleware:
    """Every partner API answer says the budget left: X-RateLimit-Limit, -Remaining and -Reset."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        take = getattr(request, TAKE_ATTRIBUTE, None)
        if take is not None:
            for name, value in rate_limit_headers(take).items():
                response[name] = value
        return response
