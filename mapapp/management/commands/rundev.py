"""Run the development site: Django's server and a real Celery worker (with beat), together.

`make run` ends here. Ctrl-C stops both. The worker is a separate process on the configured
broker (the filesystem transport by default), exactly as in production, not eager mode.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a Celery worker (with beat) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--seed-demo", action="store_true", help="Add the demo city first if the database is empty."
        )

    def handle(self, *args, addr: str, concurrency: int, seed_demo: bool, **options):
        if seed_demo:
            # seed_demo prints the demo login (after checking it still works): once, here.
            call_command("seed_demo", "--if-empty", stdout=self.stdout, stderr=self.stderr)
        python = sys.executable
        worker_cmd = [python, "-m", "celery", "-A", "camerawatch", "worker", "--beat", "--loglevel", "info"]
        worker_cmd += ["--concurrency", str(concurrency), "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]
        processes = {
            "worker": subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR),
            "web": subprocess.Popen([python, "manage.py", "runserver", addr], cwd=settings.BASE_DIR),
        }
        self._announce(addr)
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; shutting down the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the web server and the worker…")
        finally:
            for p in processes.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()

    def _announce(self, addr: str) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nCameraWatch is starting at http://{addr}/"))
        self.stdout.write("Press Ctrl-C to stop the web server and the worker.\n")
