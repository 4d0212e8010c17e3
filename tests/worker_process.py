"""A real Celery worker (or its supervisor) as a subprocess, started from the Procfile's own command line.

The tests of stopping, supervising and broker outages need the worker as `make run` starts it: its own
process, a prefork pool with children, signals from outside. The command comes from the Procfile, so a
change there is what the tests run.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import uuid
from pathlib import Path

from django.db import connection
from polling import wait_until

ROOT = Path(__file__).resolve().parent.parent


def procfile_command(name: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return [str(ROOT / part) if part.startswith(".venv/") else part for part in shlex.split(command)]
    raise AssertionError(f"no {name!r} process in the Procfile")


def database_url_of_this_test() -> str:
    """DATABASE_URL of the database this test runs on, for a worker in another process."""
    settings_dict = connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    """One worker process (the Procfile's `worker` line, or `io`), logging to a file the test can read."""

    def __init__(
        self, *, log_path: Path, env: dict[str, str], supervised: bool = False, process: str = "worker"
    ) -> None:
        command = procfile_command(process)
        if not supervised and "builder_platform.supervise" in command:
            command = command[command.index("--") + 1 :]
        # A name of its own, so its heartbeat row is not another worker's.
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.command = [*command, "--hostname", self.hostname]
        self.log_path = log_path
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            # Its own session, as honcho starts each process: signals reach it only when sent.
            self.process = subprocess.Popen(  # noqa: S603
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, *, times: int = 1, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the worker exited with {self.process.returncode}:\n{self.log()[-3000:]}"
                )
            return self.log().count(" ready.") >= times

        wait_until(ready, timeout=timeout, interval=0.2)

    def children(self, pid: int | None = None) -> list[int]:
        pid = pid or self.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout: float = 30.0) -> int | None:
        """SIGTERM, as honcho sends it; the exit code, or None if it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return None
