"""Token buckets kept in the database (when there is no shared Redis) and partners' own API limits."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from generations.store import GenerationBumpingQuerySet


class RateBucket(models.Model):
    """One token bucket: `tokens` left at `refilled_at`; every process of the deployment shares the row."""

    key = models.CharField(max_length=200, primary_key=True)
    # A fraction of a request accrues between two requests; not money, so a float is exact enough.
    tokens = models.FloatField()
    refilled_at = models.FloatField(help_text="Unix time (seconds) the tokens were counted at.")

    class Meta:
        verbose_name = "rate bucket"

    def __str__(self) -> str:
        return self.key


class PartnerRateLimit(models.Model):
    """A partner's own API rate limit, replacing PARTNER_API_RATE / PARTNER_API_BURST for it."""

    # By name: customers sits to the right of this app and is never imported here.
    partner = models.OneToOneField("customers.Partner", on_delete=models.CASCADE, related_name="rate_limit")
    rate_per_second = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Requests per second the partner's budget refills by."
    )
    burst = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="Requests the partner may send at once after a quiet spell.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        verbose_name = "partner rate limit"

    def __str__(self) -> str:
        return f"{self.rate_per_second}/s, burst {self.burst}"
