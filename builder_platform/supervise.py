"""Run a command and start it again whenever it dies, until told to stop: `make run`'s worker keeper.

    python -m builder_platform.supervise -- celery -A builder_platform worker ...

honcho stops everything as soon as one process ends, and has no restart policy; a Celery worker that
exits (a crash, an unrecoverable broker error, the OOM killer) would otherwise take `make run` down
or, run alone, leave queued orders with nobody to send them. In production the process manager
(systemd `Restart=always`, Kubernetes) does this job.

SIGTERM or SIGINT is passed on to the command as SIGTERM (a warm shutdown for Celery), and this
process then exits with the command's exit code. Standard library only: it must run before, and
without, Django.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

RESTART_DELAY_FIRST_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0
# A run that lasted this long was healthy: the next restart waits the first delay again.
HEALTHY_RUN_SECONDS = 60.0


def say(message: str) -> None:
    print(f"supervise: {message}", file=sys.stderr, flush=True)


def supervise(command: list[str]) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def on_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    delay = RESTART_DELAY_FIRST_SECONDS
    while True:
        if stopping:
            return 0
        started = time.monotonic()
        child = subprocess.Popen(command)  # noqa: S603 - the operator's own command line
        returncode = child.wait()
        if stopping:
            return returncode if returncode >= 0 else 128 - returncode
        ran_for = time.monotonic() - started
        if ran_for >= HEALTHY_RUN_SECONDS:
            delay = RESTART_DELAY_FIRST_SECONDS
        say(
            f"{command[0]} exited with code {returncode} after {ran_for:.0f} s; "
            f"starting it again in {delay:g} s"
        )
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return 0
        delay = min(delay * 2, RESTART_DELAY_MAX_SECONDS)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        say("usage: python -m builder_platform.supervise -- COMMAND [ARGS...]")
        return 2
    return supervise(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
