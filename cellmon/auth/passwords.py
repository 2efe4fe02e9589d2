"""Password hashing with Argon2id (argon2-cffi's defaults, which follow RFC 9106).

Hashing is slow on purpose (tens of milliseconds), so it runs in a worker thread and never
blocks the event loop that serves every other request.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()


@cache
def _decoy_hash() -> str:
    """Verified against when the account does not exist, so that a wrong e-mail address costs
    as long as a wrong password and the answer's timing does not tell which accounts exist.
    Made by the server's start-up (`prepare`), not at import: every `cellmon` command imports
    this module."""
    return _hasher.hash("no account has this password")


async def prepare() -> None:
    """Make the decoy hash now (the server's start-up): otherwise the first sign-in for an
    unknown address would take two hashes' time, and say that the address is unknown."""
    await asyncio.to_thread(_decoy_hash)


def hash_password_now(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; `stored_hash=None` (no such account) spends the same time."""
    return await asyncio.to_thread(_verify, stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
