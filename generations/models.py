"""The read caches' generation in the embedded mode (no shared Redis): one row every process reads."""

from __future__ import annotations

from django.db import models


class ReadGeneration(models.Model):
    """Bumped in the transaction of every change a cached read must see at once (generations.store)."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "read cache generation"

    def __str__(self) -> str:
        return f"generation {self.value}"
