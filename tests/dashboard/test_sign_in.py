"""Signing in to the dashboard in headless Chromium: the form, the way back to the page asked
for (and never to another site), a wrong password, signing out, and a session that ends."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Page, expect

from cellmon.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from cellmon.auth.tokens import TokenCodec, secret_key
from cellmon.db.models import Class, User
from tests.accounts import TEST_PASSWORD, add_instructor, create_account
from tests.classroom.seed import Seeder
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage, sign_in

pytestmark = pytest.mark.browser

ANN = "ann@example.org"
BOB = "bob@example.org"
# Each of these must leave the browser on this site's dashboard after signing in.
FOREIGN_NEXT = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "/\t/evil.example/",
    "http:evil.example",
    "javascript:alert(document.domain)",
    "evil.example/",
]


async def _fill_in(browser: Page, email: str, password: str) -> None:
    await browser.get_by_label("E-mail address").fill(email)
    await browser.get_by_label("Password").fill(password)
    await browser.get_by_role("button", name="Sign in").click()


async def _cookie(browser: Page, name: str) -> str | None:
    for cookie in await browser.context.cookies():
        if cookie.get("name") == name:
            return cookie.get("value")
    return None


async def _class_of(server: LiveServer, teacher: User, name: str, *students: str) -> Class:
    async with server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass(name, name.upper().replace(" ", "-"))
        for student in students:
            await seed.student(student, klass)
        await session.commit()
    await add_instructor(server.app, klass.id, teacher.id)
    return klass


async def test_sign_in_shows_only_ones_own_classes_and_sign_out_ends_the_session(
    live_server: LiveServer, page: WatchedPage
) -> None:
    base = live_server.base_url
    ann = await create_account(live_server.app, ANN, "instructor")
    bob = await create_account(live_server.app, BOB, "instructor")
    anns = await _class_of(live_server, ann, "Ann lab", "ann-student@example.com")
    await _class_of(live_server, bob, "Bob lab", "bob-student@example.com")
    browser = page.page

    await browser.goto(f"{base}/dashboard")

    await expect(browser).to_have_url(f"{base}/login?next=%2Fdashboard")
    await _fill_in(browser, ANN, TEST_PASSWORD)
    # Her only class opens by itself.
    await expect(browser).to_have_url(f"{base}/dashboard?class_id={anns.id}")
    await expect(browser.locator("#account")).to_have_text(ANN)
    await expect(browser.locator("#class-picker option")).to_have_text(
        ["Choose a class…", "Ann lab (ANN-LAB)"]
    )
    await expect(browser.locator("#roster .tile")).to_have_count(1)
    await expect(browser.locator("#roster .tile")).to_contain_text("ann-student@example.com")
    shown = await browser.content()
    assert "Bob lab" not in shown
    assert "bob-student@example.com" not in shown
    session_cookie = await _cookie(browser, SESSION_COOKIE)
    assert session_cookie is not None

    await browser.get_by_role("button", name="Sign out").click()

    await expect(browser).to_have_url(f"{base}/login?reason=signed-out")
    await expect(browser.locator("#signin-notice")).to_have_text("You have signed out.")
    assert await _cookie(browser, SESSION_COOKIE) is None
    assert await _cookie(browser, CSRF_COOKIE) is None
    await browser.goto(f"{base}/dashboard?class_id={anns.id}")
    await expect(browser).to_have_url(f"{base}/login?next=%2Fdashboard%3Fclass_id%3D{anns.id}")
    # The cookie the browser held is dead for the API too, not only forgotten by the browser.
    async with httpx.AsyncClient(base_url=base, cookies={SESSION_COOKIE: session_cookie}) as http:
        assert (await http.get("/api/v1/users/me")).status_code == 401
        assert (await http.get(f"/api/v1/progress/classes/{anns.id}")).status_code == 401
    assert page.errors == []


async def test_sign_in_brings_the_browser_back_to_the_url_it_asked_for(
    live_server: LiveServer, page: WatchedPage
) -> None:
    base = live_server.base_url
    ann = await create_account(live_server.app, ANN, "instructor")
    await _class_of(live_server, ann, "Ann lab", "one@example.com")
    second = await _class_of(live_server, ann, "Ann second lab", "two@example.com")
    browser = page.page

    await browser.goto(f"{base}/dashboard?class_id={second.id}")

    await expect(browser).to_have_url(f"{base}/login?next=%2Fdashboard%3Fclass_id%3D{second.id}")
    await _fill_in(browser, ANN, TEST_PASSWORD)
    await expect(browser).to_have_url(f"{base}/dashboard?class_id={second.id}")
    await expect(browser.locator("#class-name")).to_have_text("Ann second lab")
    await expect(browser.locator("#roster .tile")).to_contain_text("two@example.com")
    assert page.errors == []


async def test_sign_in_never_leads_to_another_site(
    live_server: LiveServer, page: WatchedPage
) -> None:
    base = live_server.base_url
    await create_account(live_server.app, ANN, "instructor")
    browser = page.page

    for foreign in FOREIGN_NEXT:
        await browser.goto(f"{base}/login?{urlencode({'next': foreign})}")
        await _fill_in(browser, ANN, TEST_PASSWORD)

        await expect(browser).to_have_url(f"{base}/dashboard")
        await expect(browser.locator("#account")).to_have_text(ANN)
    assert page.errors == []


async def test_a_wrong_password_is_refused_with_a_clear_message(
    live_server: LiveServer, page: WatchedPage
) -> None:
    base = live_server.base_url
    await create_account(live_server.app, ANN, "instructor")
    browser = page.page
    await browser.goto(f"{base}/login?next=%2Fdashboard")

    for email, password in ((ANN, "not the password"), ("nobody@example.org", TEST_PASSWORD)):
        await _fill_in(browser, email, password)

        error = browser.get_by_role("alert")
        await expect(error).to_have_text(
            "Wrong e-mail address or password (or the account is disabled)."
        )
        await expect(browser.get_by_label("Password")).to_have_value("")
        await expect(browser.get_by_label("Password")).to_be_focused()
    await expect(browser).to_have_url(f"{base}/login?next=%2Fdashboard")
    assert await _cookie(browser, SESSION_COOKIE) is None

    await _fill_in(browser, ANN, TEST_PASSWORD)

    await expect(browser).to_have_url(f"{base}/dashboard")
    assert page.uncaught == []


async def test_an_ended_session_sends_the_page_to_sign_in_and_back(
    live_server: LiveServer, page: WatchedPage
) -> None:
    base = live_server.base_url
    ann = await create_account(live_server.app, ANN, "instructor")
    lab = await _class_of(live_server, ann, "Ann lab", "one@example.com")
    await sign_in(page, live_server, ann)
    browser = page.page
    await browser.goto(f"{base}/dashboard?class_id={lab.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(1)
    session_cookie = await _cookie(browser, SESSION_COOKIE)
    csrf = await _cookie(browser, CSRF_COOKIE)
    assert session_cookie is not None
    assert csrf is not None
    # The session ends behind the page's back (signed out in another tab, say): the server
    # closes its live socket, and the page finds out without a click.
    async with httpx.AsyncClient(base_url=base, cookies={SESSION_COOKIE: session_cookie}) as http:
        ended = await http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert ended.status_code == 204, ended.text

    await expect(browser).to_have_url(
        f"{base}/login?next=%2Fdashboard%3Fclass_id%3D{lab.id}&reason=expired"
    )
    await expect(browser.locator("#signin-notice")).to_have_text(
        "Your session has ended. Sign in again to continue."
    )
    await _fill_in(browser, ANN, TEST_PASSWORD)
    await expect(browser).to_have_url(f"{base}/dashboard?class_id={lab.id}")
    await expect(browser.locator("#roster .tile")).to_contain_text("one@example.com")
    assert page.uncaught == []


async def test_a_session_that_expires_sends_the_page_to_sign_in(
    live_server: LiveServer, page: WatchedPage
) -> None:
    base = live_server.base_url
    ann = await create_account(live_server.app, ANN, "instructor")
    klass = await _class_of(live_server, ann, "Ann lab", "one@example.com")
    # Long enough for a busy machine to show the class first: under two suites at once,
    # 10 s was not.
    short_lived = TokenCodec(secret_key(live_server.app.state.settings), lifetime_seconds=20)
    await sign_in(page, live_server, ann, short_lived)
    browser = page.page
    await browser.goto(f"{base}/dashboard?class_id={klass.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(1)

    # Nobody touches the page: /ws closes the socket when its token expires and the page,
    # finding the session ended, goes to sign in at once, well before its next periodic read
    # (every 30 s) would.
    await expect(browser).to_have_url(
        f"{base}/login?next=%2Fdashboard%3Fclass_id%3D{klass.id}&reason=expired", timeout=30_000
    )
    assert page.uncaught == []
