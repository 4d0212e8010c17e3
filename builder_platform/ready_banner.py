"""`make run`'s last word: wait until /readyz answers, then print where things are and, on a first run,
the demo partner's API key and the admin password once more, where start-up logs cannot scroll them away.

seed_demo leaves those two secrets in VAR_DIR/first-run-credentials (mode 0600, readable by this user
only); this banner prints them and deletes the file, so they stay on disk only while `make run` starts
and never reach a log file. The process then waits, as honcho stops everything once one process ends.
Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CREDENTIALS_FILE_NAME = "first-run-credentials"
POLL_SECONDS = 0.5
STILL_WAITING_EVERY_SECONDS = 30.0


def credentials_path() -> Path:
    return (
        Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
        / CREDENTIALS_FILE_NAME
    )


def readiness(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - our own loopback URL
            return response.status == 200, ""
    except urllib.error.HTTPError as error:
        try:
            return False, json.loads(error.read()).get("error", "")
        except ValueError:
            return False, f"HTTP {error.code}"
    except OSError as error:
        return False, str(error)


def banner(base_url: str, credentials: dict[str, str] | None) -> str:
    lines = [
        f"Ready: {base_url}/  (partner API {base_url}/api/v1/, docs {base_url}/api/docs/, "
        f"admin {base_url}/admin/)"
    ]
    if credentials:
        lines += [
            "First run: these were created and are shown only now. Keep them.",
            f"  demo partner X-API-Key: {credentials['api_key']}" if credentials.get("api_key") else "",
            f"  admin login: admin / {credentials['admin_password']}"
            if credentials.get("admin_password")
            else "",
        ]
    width = max(len(line) for line in lines)
    rule = "=" * width
    return "\n".join([rule, *[line for line in lines if line], rule])


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bind = os.environ.get("BIND", "127.0.0.1:8000")
    base_url = f"http://{bind}"
    started = time.monotonic()
    next_note = started + STILL_WAITING_EVERY_SECONDS
    while True:
        ready, problem = readiness(f"{base_url}/readyz")
        if ready:
            break
        if time.monotonic() >= next_note:
            print(f"still starting after {time.monotonic() - started:.0f} s: {problem}", flush=True)
            next_note += STILL_WAITING_EVERY_SECONDS
        time.sleep(POLL_SECONDS)
    path = credentials_path()
    credentials = None
    if path.exists():
        credentials = json.loads(path.read_text())
        path.unlink()
    print(banner(base_url, credentials), flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
