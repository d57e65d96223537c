"""Seed the fictional demo city (see mapapp/demo.py) so a fresh checkout shows a lived-in map.

`make run` calls `seed_demo --if-empty` on every start, so running it again must never add a
second city: with --if-empty it leaves any database holding cameras or neighbourhoods alone, and
without it it still refuses when demo data is present. With DEBUG off the site is presumably
real, and fictional cameras must not appear on it, so it refuses unless --force is given.

The last line names the demo login (when that account exists and still has the documented
password), because `make run` shows it at start-up.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mapapp.demo import DEMO_PASSWORD, DEMO_USERNAME, DemoAlreadySeeded, demo_data_exists, demo_seed, generate_city
from mapapp.models import Camera, Neighbourhood

LOGIN_LINE = f"Demo login: username {DEMO_USERNAME}, password {DEMO_PASSWORD}"


class Command(BaseCommand):
    help = "Fill the database with a fictional demo city: neighbourhoods, cameras and volunteers' sightings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if any camera or neighbourhood exists (what `make run` uses on every start).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Seed even though DEBUG is off. A public site must not need this."
        )

    def handle(self, *args: Any, if_empty: bool, force: bool, **options: Any) -> None:
        if if_empty and (Camera.objects.exists() or Neighbourhood.objects.exists()):
            self.stdout.write("The database already holds cameras or neighbourhoods; the demo city was not added.")
        elif demo_data_exists():
            self.stdout.write("The demo city is already in the database; nothing was changed.")
        else:
            if not settings.DEBUG and not force:
                raise CommandError(
                    "DEBUG is off, so this looks like a real site: refusing to add fictional cameras to it. "
                    "Use --force if this really is a test installation."
                )
            self._seed()
        self._show_login()

    def _seed(self) -> None:
        started = time.monotonic()
        try:
            summary = demo_seed(city=generate_city())
        except DemoAlreadySeeded:  # another process seeded it between our check and our write
            self.stdout.write("The demo city is already in the database; nothing was changed.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Added the fictional demo city: {summary.neighbourhoods} neighbourhoods, {summary.cameras} cameras, "
                f"{summary.sightings} sightings by {summary.volunteers} demo volunteers "
                f"({time.monotonic() - started:.1f} s)."
            )
        )

    def _show_login(self) -> None:
        user = get_user_model().objects.filter(username=DEMO_USERNAME, is_active=True).first()
        # Checking the password costs one hash, but never prints a login that no longer works.
        if user is None or not user.check_password(DEMO_PASSWORD):
            return
        self.stdout.write(LOGIN_LINE)
        if not settings.DEBUG:
            self.stderr.write(
                self.style.WARNING(f"DEBUG is off and the account {DEMO_USERNAME!r} has a published password.")
            )
