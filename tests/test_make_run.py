"""`make run` as a person meets it: a quiet access log, the first-run secrets at the end, a clean Ctrl-C."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from json_http import json_answer
from polling import wait_until
from worker_process import ROOT, procfile_command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_BROKER_URL"))}
    env.update({"VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1", **extra})
    return env


# --- The access log ------------------------------------------------------------------------------------


def run_web(tmp_path: Path, **extra: str) -> str:
    """The Procfile's web process on a free port: two requests, then its output."""
    port = free_port()
    env = base_env(tmp_path, BIND=f"127.0.0.1:{port}", **extra)
    (tmp_path / "var").mkdir(exist_ok=True)
    command = [part.replace("${BIND:-127.0.0.1:8000}", env["BIND"]) for part in procfile_command("web")]
    command = [part.replace("${VAR_DIR:-var}", env["VAR_DIR"]) for part in command]
    log = tmp_path / "web.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def answers() -> bool:
            assert server.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, timeout=60, interval=0.2)
        # Its control socket is its own, under VAR_DIR, not the one every gunicorn of the user shares.
        assert (tmp_path / "var" / "gunicorn.ctl").exists()
        httpx.get(f"http://127.0.0.1:{port}/sim/api/v1/exchanges", timeout=10)
        httpx.get(f"http://127.0.0.1:{port}/api/v1/exchanges", timeout=10)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return log.read_text()


def test_the_access_log_keeps_partner_requests_and_drops_the_apps_own_simulator_calls(tmp_path):
    output = run_web(tmp_path)
    assert '"GET /api/v1/exchanges HTTP/1.1"' in output
    assert '"GET /healthz HTTP/1.1"' in output
    assert '"GET /sim/' not in output  # Django's own warning line for the 401 is not the access log


def test_the_simulator_calls_are_logged_when_asked_for(tmp_path):
    output = run_web(tmp_path, ACCESS_LOG_SIMULATOR="true")
    assert '"GET /sim/api/v1/exchanges HTTP/1.1"' in output


# --- The first-run secrets ---------------------------------------------------------------------------------


def test_seed_demo_leaves_the_new_secrets_for_the_banner_readable_by_this_user_only(
    db, settings, tmp_path, capsys, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    printed = capsys.readouterr().out

    path = tmp_path / "first-run-credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = json.loads(path.read_text())
    assert kept["api_key"] in printed
    assert kept["admin_password"] in printed


class Readiness(http.server.BaseHTTPRequestHandler):
    ready = False

    def do_GET(self) -> None:
        status = 200 if type(self).ready else 503
        json_answer(self, status, {"error": "Not ready: no worker has been seen yet."})

    def log_message(self, *args) -> None:
        pass


def test_the_ready_banner_waits_for_readiness_then_prints_the_secrets_once_and_deletes_them(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    secrets_file = var / "first-run-credentials"
    secrets_file.write_text(json.dumps({"api_key": "bp_example_key", "admin_password": "pw-example"}))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Readiness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Readiness.ready = False
    env = base_env(tmp_path, BIND=f"127.0.0.1:{server.server_address[1]}")
    banner = subprocess.Popen(
        [sys.executable, "-m", "builder_platform.ready_banner"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: banner.poll() is None, timeout=5)
        assert secrets_file.exists()  # nothing printed while not ready
        Readiness.ready = True
        lines = []
        while "=" * 10 not in (lines[-1] if len(lines) > 1 else ""):
            lines.append(banner.stdout.readline())
        text = "".join(lines)
        assert "Ready: http://127.0.0.1:" in text
        assert "bp_example_key" in text
        assert "admin / pw-example" in text
        assert not secrets_file.exists()
        assert banner.poll() is None  # it stays up: honcho stops everything when one process ends
    finally:
        banner.send_signal(signal.SIGTERM)
        assert banner.wait(timeout=10) == 0
        server.shutdown()


# --- Ctrl-C ------------------------------------------------------------------------------------------------


@pytest.fixture
def migrated_var(tmp_path) -> Path:
    env = base_env(tmp_path)
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    return tmp_path


def test_make_run_comes_up_ready_and_one_ctrl_c_stops_every_process_without_a_kill(migrated_var):
    tmp_path = migrated_var
    port = free_port()
    env = base_env(tmp_path, BIND=f"127.0.0.1:{port}", SITE_URL=f"http://127.0.0.1:{port}")
    log = tmp_path / "honcho.log"
    with log.open("wb") as output:
        honcho = subprocess.Popen(  # noqa: S603
            [str(ROOT / ".venv" / "bin" / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: "Ready: http://127.0.0.1:" in log.read_text(), timeout=120, interval=0.5)
        text = log.read_text()
        assert "X-API-Key: bp_" in text.split("Ready: http://")[1]  # the key again, at the end

        honcho.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends it
        honcho.wait(timeout=60)
        text = log.read_text()
        assert "SIGKILL" not in text, text[-4000:]
        for process in ("web", "worker", "io", "beat", "ready"):
            assert f"{process}.1 stopped" in text
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
