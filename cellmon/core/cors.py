"""Which browser origins may call the API: one policy, for CORSMiddleware and for the direct
routes (core/http.py), which answer before that middleware sees the request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# JupyterLab on the teacher's or student's own machine, on whatever port it picked.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
_LOCAL_ORIGINS = re.compile(LOCAL_ORIGINS)
PREFLIGHT_MAX_AGE_SECONDS = 600

ORIGIN_HEADER = b"origin"
_ALLOW_ORIGIN = b"access-control-allow-origin"
_VARY_ORIGIN = (b"vary", b"Origin")


@dataclass(frozen=True)
class CorsPolicy:
    """Origins from BACKEND_CORS_ORIGINS (`*`: any) and any local one; every method and
    header; no credentials (the API takes bearer tokens, the dashboard is same-origin)."""

    origins: tuple[str, ...]

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def middleware_options(self) -> dict[str, Any]:
        """Starlette's CORSMiddleware configured with this policy."""
        return {
            "allow_origins": list(self.origins),
            "allow_origin_regex": None if self.any_origin else LOCAL_ORIGINS,
            "allow_methods": ["*"],
            "allow_headers": ["*"],
            "max_age": PREFLIGHT_MAX_AGE_SECONDS,
        }

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins or bool(_LOCAL_ORIGINS.fullmatch(origin))

    def answer_headers(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """The headers CORSMiddleware adds to an answer that is not a preflight's: the origin
        allowed (`*` when any is), and `Vary: Origin` whatever the origin, for caches."""
        if origin is None:
            return [_VARY_ORIGIN]
        if self.any_origin:
            return [(_ALLOW_ORIGIN, b"*"), _VARY_ORIGIN]
        text = origin.decode("latin-1")
        if self.allows(text):
            return [(_ALLOW_ORIGIN, origin), _VARY_ORIGIN]
        return [_VARY_ORIGIN]
