"""Access tokens: JWTs signed with the deployment's secret key (HS256).

A token names its account (`sub`), carries a random id (`jti`, what signing out revokes) and
an expiry. A token for the dashboard's cookie also carries the CSRF value that the page must
echo in `X-CSRF-Token` on every write, so a forged cross-site form cannot write with it.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from cellmon.core.errors import ConfigError
from cellmon.core.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "cellmon"
MIN_SECRET_LENGTH = 32
SECRET_FILE = "secret_key"


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not one of ours."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    token_id: str
    issued_at: float
    expires_at: int
    csrf: str | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: str
    expires_in: int
    csrf: str | None


def secret_key(settings: Settings) -> str:
    """CELLMON_SECRET_KEY, or (development only) one generated once into the data folder."""
    if settings.CELLMON_SECRET_KEY is not None:
        value = settings.CELLMON_SECRET_KEY.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"CELLMON_SECRET_KEY: at least {MIN_SECRET_LENGTH} characters are needed "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        return value
    if settings.is_production:
        raise ConfigError(
            "CELLMON_SECRET_KEY: required when CELLMON_ENV=production, the same value in "
            "every cellmon process"
        )
    return _generated_secret(settings.CELLMON_DATA_DIR / SECRET_FILE)


def _generated_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once agree on the first one's key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class TokenCodec:
    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._secret = secret
        self.lifetime_seconds = lifetime_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCodec:
        return cls(secret_key(settings), settings.CELLMON_ACCESS_TOKEN_MINUTES * 60)

    def issue(self, user_id: int, *, with_csrf: bool = False) -> IssuedToken:
        # A fractional `iat` (RFC 7519 allows it): a token issued just after a password change
        # in the same second must count as newer than the change, and one just before as older.
        now = time.time()
        token_id = secrets.token_urlsafe(16)
        csrf = secrets.token_urlsafe(24) if with_csrf else None
        claims: dict[str, object] = {
            "sub": str(user_id),
            "aud": AUDIENCE,
            "iat": now,
            "exp": int(now) + self.lifetime_seconds,
            "jti": token_id,
        }
        if csrf is not None:
            claims["csrf"] = csrf
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return IssuedToken(token, token_id, self.lifetime_seconds, csrf)

    def decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "iat", "exp", "jti", "aud"]},
            )
            csrf = claims.get("csrf")
            return TokenClaims(
                user_id=int(claims["sub"]),
                token_id=str(claims["jti"]),
                issued_at=float(claims["iat"]),
                expires_at=int(claims["exp"]),
                csrf=csrf if isinstance(csrf, str) else None,
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc
