"""Rules on accounts: sign-in, passwords, sign-out, and the first admin."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth import passwords, repository
from cellmon.auth.principal import Principal, Role
from cellmon.core.bus import MessageBus
from cellmon.core.errors import ConflictError
from cellmon.core.unit_of_work import after_commit, refused_as
from cellmon.db.models import User
from cellmon.live.session_ends import EndCause, SessionEnd, announce

logger = logging.getLogger(__name__)


class WeakPassword(ValueError):
    """The new password breaks a rule; the message says which."""


def check_password_rules(password: str, email: str) -> None:
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {passwords.MIN_PASSWORD_LENGTH} characters")
    if len(password) > passwords.MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at most {passwords.MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == email.strip().lower():
        raise WeakPassword("the password must not be the e-mail address")


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The active account with this e-mail address and password; None otherwise (always after
    the same slow hash, whether the account exists or not)."""
    user = await repository.get_by_email(session, email)
    valid = await passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_password(password)
    user.last_login_at = datetime.now(UTC)
    await session.flush()
    return user


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: Role,
    full_name: str | None = None,
) -> User:
    """A new account (flushed, not committed); ConflictError when the address is taken."""
    email = normalise_email(email)
    check_password_rules(password, email)
    taken = ConflictError(f"an account with the e-mail address {email!r} already exists")
    if await repository.get_by_email(session, email) is not None:
        raise taken
    password_hash = await passwords.hash_password(password)
    # The check above and this insert race with another request for the same address.
    async with refused_as(session, taken):
        user = User(
            email=email,
            full_name=full_name,
            role=role.value,
            password_hash=password_hash,
            is_active=True,
            tokens_valid_after=datetime.now(UTC),
        )
        session.add(user)
        await session.flush()
    return user


def _announce_after_commit(session: AsyncSession, bus: MessageBus, end: SessionEnd) -> None:
    # Only once committed: a socket closed for it must find its token refused on reconnect.
    after_commit(session, lambda: announce(bus, end))


def end_all_sessions(session: AsyncSession, bus: MessageBus, user: User) -> None:
    """Every token issued to the account so far stops working, and once that is committed,
    every /ws socket opened with one is closed, in every server process."""
    user.tokens_valid_after = datetime.now(UTC)
    _announce_after_commit(session, bus, SessionEnd(user.id, None, EndCause.ACCOUNT_SESSIONS_ENDED))


async def set_password(
    session: AsyncSession, bus: MessageBus, user: User, new_password: str
) -> None:
    check_password_rules(new_password, user.email)
    user.password_hash = await passwords.hash_password(new_password)
    end_all_sessions(session, bus, user)
    await session.flush()


async def change_own_password(
    session: AsyncSession, bus: MessageBus, user: User, current_password: str, new_password: str
) -> bool:
    """False when the current password is wrong; otherwise the password is changed and every
    session of the account ends, the one that changed it too."""
    if not await passwords.verify_password(user.password_hash, current_password):
        return False
    await set_password(session, bus, user, new_password)
    return True


async def _revoke(
    session: AsyncSession, bus: MessageBus, principal: Principal, cause: EndCause
) -> None:
    expires_at = datetime.fromtimestamp(principal.token_expires_at, UTC)
    await repository.forget_expired_revocations(session, datetime.now(UTC))
    await repository.revoke(session, principal.token_id, expires_at)
    await session.flush()
    _announce_after_commit(session, bus, SessionEnd(principal.user_id, principal.token_id, cause))


async def sign_out(session: AsyncSession, bus: MessageBus, principal: Principal) -> None:
    """The presented token stops working, and the /ws sockets opened with it close."""
    await _revoke(session, bus, principal, EndCause.SIGNED_OUT)


async def retire_refreshed(session: AsyncSession, bus: MessageBus, principal: Principal) -> None:
    """The token a refresh replaced stops working; the sockets opened with it close too
    (a socket lives as long as its token), and the client reconnects with the new one."""
    await _revoke(session, bus, principal, EndCause.TOKEN_REFRESHED)


def token_is_current(user: User, issued_at: float) -> bool:
    """Whether a token issued at `issued_at` outlived no password change, reset, change of
    role or disabling of its account."""
    return user.is_active and issued_at > user.tokens_valid_after.timestamp()
