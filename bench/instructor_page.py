"""What the browser benchmarks share: headless Chromium as the tests run it, the API calls an
instructor makes to set a class up, and the instructor's dashboard opened on that class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page

from bench import dashboard_probe as probe

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}


def check_chromium() -> None:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found (scripts/services.sh up installs it)")


async def answer_json(request: Any) -> Any:
    """The JSON body of the awaited request's answer; a RuntimeError for any non-2xx."""
    answer: httpx.Response = await request
    if answer.status_code >= 300:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


async def bearer_token(api: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    answer = await answer_json(
        api.post("/api/v1/auth/token", data={"username": email, "password": password})
    )
    return {"Authorization": f"Bearer {answer['access_token']}"}


async def open_class_page(
    page: Page, port: int, class_id: int, email: str, password: str, students: int
) -> None:
    """Sign in on /login as the instructor and wait until the class's dashboard shows at
    least `students` students; the page's probe (dashboard_probe.py) is installed first."""
    await page.add_init_script(probe.PROBE_SCRIPT)
    await page.goto(f"http://127.0.0.1:{port}/login?next=/dashboard%3Fclass_id%3D{class_id}")
    await page.fill("#username", email)
    await page.fill("#password", password)
    await page.click("#signin-submit")
    await page.wait_for_url("**/dashboard?class_id=*")
    await page.wait_for_function(
        "n => Number(document.querySelector('[data-total=students]')?.textContent"
        ".replace(/[^0-9]/g, '')) >= n",
        arg=students,
        timeout=60_000,
    )
