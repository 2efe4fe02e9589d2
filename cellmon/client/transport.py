"""One request to the events route, and what its answer means for the events in it.

Standard library only (urllib, gzip). Redirects are not followed: urllib would turn a
redirected POST into a GET without its body, and the events would be refused as if sent.
"""

from __future__ import annotations

import enum
import gzip
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any

USER_AGENT = "cellmon-client/0.1"
# The server's answers that ask to be retried later, besides every 5xx.
RETRY_LATER = frozenset({408, 425, 429})
# Refusals of the request as a whole that may pass for fewer events at once (too many, too
# large, or one invalid event among good ones): the batch is split, down to one event.
SPLIT_AND_RETRY = frozenset({413, 422})


class Verdict(enum.Enum):
    TAKEN = "taken"  # 2xx: the server queued them durably
    RETRY = "retry"  # network error, 5xx, 408/425/429, or an unexpected 1xx/3xx
    SPLIT = "split"  # 413/422 for more than one event
    REFUSED = "refused"  # any other 4xx, or 413/422 for one event: it can never be taken


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (refused connection, time-out, reset)
    detail: str
    retry_after: float | None = None

    def verdict(self, events: int) -> Verdict:
        status = self.status
        if status is None or status >= 500 or status in RETRY_LATER:
            return Verdict.RETRY
        if 200 <= status < 300:
            return Verdict.TAKEN
        if status in SPLIT_AND_RETRY and events > 1:
            return Verdict.SPLIT
        if 400 <= status < 500:
            return Verdict.REFUSED
        return Verdict.RETRY


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def batch_body(bodies: Sequence[str]) -> bytes:
    """The request body: the events' JSON texts as one JSON array, gzipped."""
    return gzip.compress(("[" + ",".join(bodies) + "]").encode(), compresslevel=6, mtime=0)


def post_events(url: str, bodies: Sequence[str], timeout: float) -> Answer:
    request = urllib.request.Request(
        url,
        data=batch_body(bodies),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, _text(response.read()))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, _text(error.read()), _retry_after(error.headers))
    except (OSError, ValueError) as error:
        # URLError, refused or reset connections and time-outs are OSErrors; a malformed
        # URL is a ValueError: both leave the events queued.
        return Answer(None, f"{type(error).__name__}: {error}")


def _text(body: bytes) -> str:
    return body[:500].decode("utf-8", "replace")


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
