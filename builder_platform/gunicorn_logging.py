"""gunicorn's access log without the app's own calls to the embedded simulator.

In the embedded mode the worker and the web processes call the simulator on this same server several
times a second (orders, listings, fills): their lines buried the partner-facing requests (2,820 in 12
minutes). They are dropped unless ACCESS_LOG_SIMULATOR is true. Read by gunicorn's master, before
and without Django, hence the environment rather than Django settings.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

SIMULATOR_PATH_PREFIX = "/sim/"


def _keep_simulator_requests() -> bool:
    return os.environ.get("ACCESS_LOG_SIMULATOR", "").strip().lower() in {"1", "true", "yes", "on"}


class PartnerFacingAccessLogger(Logger):
    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.keep_simulator_requests = _keep_simulator_requests()

    def access(self, resp, req, environ, request_time) -> None:
        if not self.keep_simulator_requests and environ.get("PATH_INFO", "").startswith(
            SIMULATOR_PATH_PREFIX
        ):
            return
        super().access(resp, req, environ, request_time)
