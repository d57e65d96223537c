"""Playwright driving Debian's chromium, with every request to another host blocked and recorded.

Playwright's own browser download does not work here, so the system chromium is used. Skips with a
message on a machine without it; in CI (which installs it) a missing browser fails the run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections

from tests.conftest import IN_CI
from tests.support import BASE_DIR

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = BASE_DIR / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
VOLUNTEER_TIME_ZONE = "America/New_York"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class OutsideRequests(list):
    """URLs the page tried to fetch from a host other than ours (all of them were blocked)."""

    def hosts(self) -> set[str]:
        return {urlsplit(url).hostname for url in self}


@pytest.fixture
def browser_page(live_server, request):
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page steps are still plain synchronous calls on the test's own connection.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    outside = OutsideRequests()

    def guard(route):
        host = urlsplit(route.request.url).hostname
        if host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        # A volunteer far from the server's UTC clock, so time-zone slips show up.
        context = browser.new_context(
            viewport={"width": 1200, "height": 1000}, locale="en-US", timezone_id=VOLUNTEER_TIME_ZONE
        )
        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.outside_requests = outside
        try:
            yield page
        finally:
            # ORM calls made while Playwright's greenlet is active run in its context and get a
            # connection of their own (asgiref's Local is per context); close it here, where it
            # is visible, or the test database cannot be dropped at the end of the run.
            connections.close_all()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
            context.close()
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
