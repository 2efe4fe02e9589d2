"""The rules of ingest keys: who manages them, how a key is made and kept, and how the
events route finds a key's class quickly.

A key is `cmk_` and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored, so
a copy of the database gives no working key; the key itself is shown once, when created.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection

from cellmon.audit import service as audit
from cellmon.auth.access import Access
from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable, NotFoundError
from cellmon.db.base import utcnow
from cellmon.db.models import IngestKey
from cellmon.ingestkeys import repository

# The events URL's query parameter that carries the key.
KEY_PARAMETER = "key"
KEY_PREFIX = "cmk_"
# How many characters of a key the list shows (the fixed prefix and 8 random ones).
SHOWN_CHARS = len(KEY_PREFIX) + 8
# Longer than any key this server makes: such a value is refused without a look-up.
MAX_KEY_CHARS = 128
# An unknown key is remembered this long at most: it keeps a client that repeats a wrong key
# from costing a query per event, yet needs no invalidation when the key is created later.
NEGATIVE_CACHE_SECONDS = 5.0
# Bounds the cache of one process whatever keys clients make up.
MAX_CACHED_KEYS = 10_000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def events_url(base_url: str, api_prefix: str, key: str) -> str:
    """The URL students set as the extension's `serverUrl`."""
    return f"{base_url.rstrip('/')}{api_prefix}/events?{urlencode({'key': key})}"


async def create_key(
    session: AsyncSession, access: Access, class_id: int, label: str | None
) -> tuple[IngestKey, str]:
    """A new key of the class and the key itself (which is not stored)."""
    await access.require_class(session, class_id, teach=True)
    key = new_key()
    row = await repository.add(
        session,
        class_id=class_id,
        key_hash=hash_key(key),
        prefix=key[:SHOWN_CHARS],
        label=label,
        created_by=access.principal.user_id,
    )
    await audit.record(
        session,
        access.principal,
        "ingest_key.create",
        "ingest_key",
        row.id,
        class_id=class_id,
        prefix=row.prefix,
        label=label,
    )
    return row, key


async def list_keys(session: AsyncSession, access: Access, class_id: int) -> Sequence[IngestKey]:
    await access.require_class(session, class_id, teach=True)
    return await repository.of_class(session, class_id)


async def revoke_key(session: AsyncSession, access: Access, class_id: int, key_id: int) -> str:
    """Revoke the key (again: no change); the hash of the key, for the caller's cache."""
    await access.require_class(session, class_id, teach=True)
    row = await repository.get(session, class_id, key_id)
    if row is None:
        raise NotFoundError(f"class {class_id} has no ingest key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await audit.record(
            session,
            access.principal,
            "ingest_key.revoke",
            "ingest_key",
            row.id,
            class_id=class_id,
            prefix=row.prefix,
        )
    return row.key_hash


_KEY_ONLY = KEY_PARAMETER.encode() + b"="


def ingest_key(query_string: bytes) -> str | None:
    """The `key` query parameter; None when there is none.

    An events URL holds the key alone (`?key=cmk_…`, URL-safe characters): that query string
    is cut, not parsed, which costs a one-event request a tenth of what parsing did.
    """
    if not query_string:
        return None
    if (
        query_string.startswith(_KEY_ONLY)
        and b"&" not in query_string
        and b"%" not in query_string
        and b"+" not in query_string
    ):
        return query_string[len(_KEY_ONLY) :].decode("latin-1")
    return QueryParams(query_string.decode("latin-1")).get(KEY_PARAMETER)


class IngestKeyResolver:
    """The class of an ingest key, as the events route asks for each request.

    Answers are cached in this process: a known key for CELLMON_INGEST_KEY_CACHE_SECONDS, an
    unknown or revoked one for at most NEGATIVE_CACHE_SECONDS. Requests that arrive together
    with a key not cached share one look-up. A revocation in this process drops the key's entry
    at once (`forget`); other processes keep their answer until it expires. The cache is keyed
    by the key as sent, so that a hit costs no hashing.
    """

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._negative_ttl = min(ttl_seconds, NEGATIVE_CACHE_SECONDS)
        self._clock = clock
        # key -> (class id or None, expiry on the clock, the key's hash); oldest first.
        self._entries: dict[str, tuple[int | None, float, str]] = {}
        self._lookups: dict[str, asyncio.Future[int | None]] = {}
        # Moves at each `forget`: a look-up that started before keeps its answer to itself.
        self._generation = 0

    async def class_of(self, key: str, database: Database) -> int | None:
        """The class of an active key; None for a key unknown, revoked or malformed."""
        cached = self._entries.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        if not key or len(key) > MAX_KEY_CHARS:
            return None
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(key, database))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(key, done))
        # Shielded: a client that leaves does not cancel the look-up others wait for.
        return await asyncio.shield(lookup)

    def forget(self, key_hash: str) -> None:
        """Drop what this process knows of a key (it was just revoked)."""
        self._generation += 1
        self._entries = {key: entry for key, entry in self._entries.items() if entry[2] != key_hash}
        # Look-ups under way may have read the key before its revocation: later requests
        # start their own.
        self._lookups.clear()

    async def _look_up(self, key: str, database: Database) -> int | None:
        generation = self._generation
        digest = hash_key(key)
        try:
            async with database.sessions() as session:
                class_id = await repository.class_of_active_key(session, digest)
        except (SQLAlchemyError, OSError) as exc:
            raise BackendUnavailable(f"checking the ingest key: {exc}") from exc
        if generation == self._generation:
            self._remember(key, class_id, digest)
        return class_id

    def _lookup_done(self, key: str, done: asyncio.Future[int | None]) -> None:
        if self._lookups.get(key) is done:
            del self._lookups[key]
        if not done.cancelled():
            # Retrieved here so that a failure nobody awaited any more is not logged as lost.
            done.exception()

    def _remember(self, key: str, class_id: int | None, digest: str) -> None:
        ttl = self._ttl if class_id is not None else self._negative_ttl
        if ttl <= 0:
            return
        now = self._clock()
        if len(self._entries) >= MAX_CACHED_KEYS:
            self._entries = {
                cached: entry for cached, entry in self._entries.items() if entry[1] > now
            }
            while len(self._entries) >= MAX_CACHED_KEYS:
                del self._entries[next(iter(self._entries))]
        self._entries.pop(key, None)
        self._entries[key] = (class_id, now + ttl, digest)


def resolver_of(connection: HTTPConnection) -> IngestKeyResolver:
    """The app's resolver (app.state.ingest_keys, made by create_app)."""
    resolver: IngestKeyResolver = connection.app.state.ingest_keys
    return resolver
