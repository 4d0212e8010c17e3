"""Logging helpers loaded by the LOGGING setting itself, so they import nothing from Django or the apps."""

from __future__ import annotations

import logging


class ClientErrorLevelFilter(logging.Filter):
    """A caller's mistake is not a server error in our logs.

    Django logs a 5xx at ERROR, and a refused Host or an oversized body (django.security) at ERROR too.
    A 501 here is Parsec's own answer to an exchange/order-type combination it does not support: the
    partner's request, not our fault. Records about 4xx answers and 501 are lowered to WARNING.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status_code = getattr(record, "status_code", None)
        if (
            isinstance(status_code, int)
            and (status_code < 500 or status_code == 501)
            and record.levelno > logging.WARNING
        ):
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True
