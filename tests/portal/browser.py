"""A real headless Chromium (Debian's, /usr/bin/chromium) driven by Playwright, one per test
module; every page visited is screenshotted under ``test-artifacts/portal/`` and checked with
axe-core (the copy the axe-playwright-python wheel ships)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
# How long an ``expect`` waits for the page: Playwright's default, 5 s, is short for Chromium,
# axe-core and the server sharing a slow 2-core runner (actions keep their default, 30 s).
expect.set_options(timeout=20_000)
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "portal"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


class Visitor:
    """A person at a browser: one context (cookie jar), screenshots and axe on every page."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.shots = 0
        self.axe = Axe()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async def look(self, label: str, *, full: bool = True) -> Path:
        """Screenshot the page and check it with axe-core: no violations allowed."""
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{slug}.png"
        await self.page.screenshot(path=str(path), full_page=full)
        results: Any = await self.axe.run(self.page)
        violations = results.response.get("violations", [])
        assert not violations, f"{label}: axe-core found\n{results.generate_report()}"
        return path


async def visitor(browser: Browser, name: str, base_url: str, **options: Any) -> Visitor:
    context = await browser.new_context(base_url=base_url, **options)
    page = await context.new_page()
    return Visitor(page, name)
