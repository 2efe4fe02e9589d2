"""The simulated class on the server: signed in with an instructor's or admin's account, a new
class and its ingest key, made through the API as an instructor would."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx


class SetupError(Exception):
    """The class could not be made; the message says why."""


@dataclass(frozen=True, slots=True)
class SimulatedClass:
    class_id: int
    name: str
    events_url: str  # the events route with the class's ingest key


def _refusal(response: httpx.Response, what: str) -> SetupError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    reason = detail if isinstance(detail, str) else response.reason_phrase
    return SetupError(f"{what}: {response.status_code} {reason}")


async def create_class(
    http: httpx.AsyncClient, base_url: str, email: str, password: str, students: int
) -> SimulatedClass:
    """Sign in, make a class for the run and its ingest key; the class's events URL."""
    try:
        return await _create_class(http, base_url, email, password, students)
    except httpx.TransportError as exc:
        raise SetupError(f"{base_url}: no answer ({exc!r})") from exc


async def _create_class(
    http: httpx.AsyncClient, base_url: str, email: str, password: str, students: int
) -> SimulatedClass:
    signed_in = await http.post(
        f"{base_url}/api/v1/auth/token", data={"username": email, "password": password}
    )
    if signed_in.status_code != 200:
        raise _refusal(signed_in, f"signing in as {email}")
    auth = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    started = datetime.now(UTC).astimezone()
    name = f"Simulated class of {students} — {started:%Y-%m-%d %H:%M}"
    created = await http.post(
        f"{base_url}/api/v1/classes",
        json={
            "name": name,
            # Unique, so that every run is a class of its own.
            "class_code": f"SIM-{started:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}",
            "description": "Made by `cellmon simulate`.",
        },
        headers=auth,
    )
    if created.status_code != 201:
        raise _refusal(created, "creating the class")
    class_id: int = created.json()["id"]
    keyed = await http.post(
        f"{base_url}/api/v1/classes/{class_id}/ingest-keys",
        json={"label": "cellmon simulate"},
        headers=auth,
    )
    if keyed.status_code != 201:
        raise _refusal(keyed, "creating the class's ingest key")
    key = keyed.json()["key"]
    return SimulatedClass(class_id, name, events_url(base_url, key))


def events_url(base_url: str, key: str | None) -> str:
    """The events route at `base_url`, with the class's ingest key when there is one."""
    url = f"{base_url}/api/v1/events"
    return str(httpx.URL(url, params={"key": key})) if key else url
