"""Test helpers: real things to stand up (a Celery worker process, a local HTTP server), and a
snapshot of the rows dedupe writes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


def dedupe_rows() -> tuple[list[dict[str, object]], ...]:
    """Every row a dedupe service may write, to show that a refused action wrote nothing."""
    from mapapp.models import Assignment, AuditEvent, Camera, Sighting, Vote

    return (
        list(Camera.objects.order_by("pk").values()),
        list(Sighting.objects.order_by("pk").values("pk", "camera_id", "status", "pinned")),
        list(Assignment.objects.order_by("pk").values()),
        list(AuditEvent.objects.order_by("pk").values()),
        list(Vote.objects.order_by("pk").values()),
    )


def wait_until(predicate: Callable[[], bool], *, timeout: float = 30, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_database_url() -> str:
    """A DATABASE_URL for the test database, so a worker subprocess sees what the test committed."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    """A real `celery worker` child process on the configured broker, consuming the test queue."""

    def __init__(self, *, queue: str, log_path: Path, concurrency: int = 1, name: str = "w1") -> None:
        self.queue = queue
        self.log_path = log_path
        self.concurrency = concurrency
        self.name = name
        self.proc: subprocess.Popen | None = None

    def start(self, *, timeout: float = 60) -> WorkerProcess:
        env = {**os.environ, "DATABASE_URL": test_database_url(), "CELERY_QUEUE": self.queue}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        cmd = [sys.executable, "-m", "celery", "-A", "camerawatch", "worker", "-Q", self.queue]
        cmd += ["--concurrency", str(self.concurrency), "-n", f"{self.name}-{os.getpid()}@%h", "-l", "info"]
        cmd += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.proc = subprocess.Popen(cmd, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        if not wait_until(
            lambda: b" ready." in self.log_path.read_bytes() or self.proc.poll() is not None, timeout=timeout
        ):
            raise RuntimeError(f"Celery worker did not start:\n{self.log()}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited with {self.proc.returncode}:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill9(self) -> None:
        """Kill the worker and its pool children at once, as a crash or OOM kill would."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            for child in _children(self.proc.pid):
                os.kill(child, signal.SIGKILL)
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill9()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


@contextlib.contextmanager
def local_http_server(handle: Callable[[BaseHTTPRequestHandler], tuple[int, object]]) -> Iterator[str]:
    """Serve `handle(request) -> (status, json_body)` on 127.0.0.1; yields the base URL.

    Used to stand in for the public geocoding service, the one thing the suite may not call.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = handle(self)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
