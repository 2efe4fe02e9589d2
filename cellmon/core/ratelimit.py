"""Rate limits: fixed-window counters, kept in this process or shared by every process through
Redis.

The `limits` package parses the limit strings ("100/minute", "10/5 minutes") and, with Redis,
keeps the shared counts (`limits.aio.storage.RedisStorage` on redis-py, its fixed-window
strategy). Two kinds of limit:

- an *exact* limit (sign-in, writes) is counted in the shared storage before the request is
  answered: one Redis round trip, on requests that cost far more anyway;
- a *hot* limit (ingest, where one round trip would cost more than the route itself) is
  counted in the process, which adds its new hits to the shared count in the background, every
  SHARE_SECONDS, for a counter whose hits there reach a hundredth of the limit. A process thus
  decides from the last shared total plus its own hits since, and a limit may be passed by what
  the other processes admit between two shares (a hundredth of the limit each, or one share
  interval's traffic): against floods, not exact accounting.

When Redis cannot be reached, every limit is counted in the process alone (a warning is logged
once): a limit never turns a request into an error because its storage is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis

logger = logging.getLogger(__name__)

DISABLED = "0"
SHARE_SECONDS = 0.1
# A hot counter is shared once its unshared hits reach this fraction of the limit, so that a
# quiet sender (one student's own address) costs Redis nothing.
SHARE_FRACTION = 100
# After a failed Redis call, limits are counted in the process for this long before Redis is
# tried again, so that an outage costs no request a connection attempt.
RETRY_REDIS_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.5


def parse_limit(value: str) -> RateLimitItem | None:
    """The limit a setting names; None for "0" (no limit). ValueError when unreadable."""
    if value.strip() == DISABLED:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a rate limit: write e.g. '100/minute' or '10/5 minutes', "
            f"or {DISABLED!r} for none"
        ) from exc


def digest(identifier: str) -> str:
    """What a secret or personal identifier (an ingest key, an e-mail address) is counted
    under: storage keys and logs never hold the value itself."""
    return hashlib.sha256(identifier.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: str  # in the storage keys
    setting: str  # the variable that sets it
    item: RateLimitItem
    hot: bool = False
    amount: int = field(init=False)
    seconds: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", self.item.amount)
        object.__setattr__(self, "seconds", self.item.get_expiry())

    @classmethod
    def from_setting(
        cls, name: str, setting: str, value: str, *, hot: bool = False
    ) -> RateLimit | None:
        item = parse_limit(value)
        return None if item is None else cls(name, setting, item, hot)

    def describe(self) -> str:
        granularity = type(self.item).GRANULARITY.name
        per = f"{self.item.multiples} {granularity}s" if self.item.multiples > 1 else granularity
        return f"{self.amount} per {per}"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window ends, when refused


ALLOWED = Verdict(True)


def _refused(seconds: float) -> Verdict:
    return Verdict(False, max(1, math.ceil(seconds)))


class RateLimiter(ABC):
    """Counts a hit of a limit for an identifier and says whether it is within the limit."""

    @abstractmethod
    async def start(self) -> None:
        """Begin background work."""

    @abstractmethod
    async def close(self) -> None:
        """End background work and release connections."""

    @abstractmethod
    async def hit(self, limit: RateLimit, identifier: str) -> Verdict: ...


class _Window:
    __slots__ = ("count", "ends_at")

    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at
        self.count = 0


class LocalCounts:
    """Fixed windows that start at an identifier's first hit, as in `limits`' fixed-window
    strategy: a hit is a few dict operations. Ended windows are swept out once per
    SWEEP_SECONDS, so the dict holds only the identifiers seen lately."""

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _Window] = {}
        self._next_sweep = 0.0

    def hit(self, limit: RateLimit, identifier: str, now: float) -> Verdict:
        if now >= self._next_sweep:
            self._sweep(now)
        window = self._windows.get((limit.name, identifier))
        if window is None or window.ends_at <= now:
            window = self._windows[(limit.name, identifier)] = _Window(now + limit.seconds)
        if window.count >= limit.amount:
            return _refused(window.ends_at - now)
        window.count += 1
        return ALLOWED

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_SECONDS
        for key in [key for key, window in self._windows.items() if window.ends_at <= now]:
            del self._windows[key]


class MemoryRateLimiter(RateLimiter):
    """One process's counts (the embedded default: one process serves everything)."""

    def __init__(self) -> None:
        self._counts = LocalCounts()

    async def start(self) -> None:
        """Nothing runs in the background."""

    async def close(self) -> None:
        """Nothing to release."""

    async def hit(self, limit: RateLimit, identifier: str) -> Verdict:
        return self._counts.hit(limit, identifier, time.time())


@dataclass(slots=True)
class _SharedCount:
    """A hot counter of one window: the shared total at the last share, and the hits this
    process admitted since."""

    key: str  # in the shared storage
    ends_at: float
    seconds: int
    threshold: int
    shared: int = 0
    pending: int = 0


class RedisRateLimiter(RateLimiter):
    """Counts shared by every process through Redis, under `{prefix}:ratelimit:`."""

    def __init__(self, redis_url: str, prefix: str, *, share_seconds: float = SHARE_SECONDS):
        self.key_prefix = f"{prefix}:ratelimit"
        self._storage = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix=self.key_prefix,
            wrap_exceptions=True,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._exact = FixedWindowRateLimiter(self._storage)
        self._share_seconds = share_seconds
        self._hot: dict[tuple[str, str], _SharedCount] = {}
        # While Redis is unreachable: what every limit is counted with.
        self._local = LocalCounts()
        self._redis_down_until = 0.0
        self._warned = False
        self._sharer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sharer = asyncio.create_task(self._share_forever(), name="rate limit sharer")

    async def close(self) -> None:
        if self._sharer is not None:
            self._sharer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sharer
        bridge = self._storage.bridge
        assert isinstance(bridge, RedispyBridge)
        # limits types the client as a protocol of the commands it uses; it is redis-py's.
        client = cast(Redis, bridge.get_connection())
        await client.aclose()

    async def hit(self, limit: RateLimit, identifier: str) -> Verdict:
        now = time.time()
        if limit.hot:
            return self._hit_hot(limit, identifier, now)
        if now < self._redis_down_until:
            return self._local.hit(limit, identifier, now)
        try:
            if await self._exact.hit(limit.item, limit.name, identifier):
                self._redis_answered()
                return ALLOWED
            stats = await self._exact.get_window_stats(limit.item, limit.name, identifier)
        except (StorageError, OSError) as exc:
            self._redis_failed(exc)
            return self._local.hit(limit, identifier, now)
        self._redis_answered()
        return _refused(stats.reset_time - time.time())

    def _hit_hot(self, limit: RateLimit, identifier: str, now: float) -> Verdict:
        count = self._hot.get((limit.name, identifier))
        if count is None or count.ends_at <= now:
            # The window starts at the process's first hit; the shared key's at the first share
            # of any process, and the total learnt at each share is that window's.
            count = self._hot[(limit.name, identifier)] = _SharedCount(
                key=limit.item.key_for(limit.name, identifier),
                ends_at=now + limit.seconds,
                seconds=limit.seconds,
                threshold=max(1, limit.amount // SHARE_FRACTION),
            )
        if count.shared + count.pending >= limit.amount:
            return _refused(count.ends_at - now)
        count.pending += 1
        return ALLOWED

    async def _share_forever(self) -> None:
        while True:
            await asyncio.sleep(self._share_seconds)
            await self.share()

    async def share(self) -> None:
        """Add this process's new hits of the hot counters to the shared totals, and learn
        those totals; drop the counters of windows that have ended."""
        now = time.time()
        due: list[tuple[_SharedCount, int]] = []
        for name, count in list(self._hot.items()):
            if count.ends_at <= now:
                del self._hot[name]
            elif count.pending >= count.threshold or (count.pending and count.shared):
                due.append((count, count.pending))
        if not due or now < self._redis_down_until:
            return
        try:
            totals = await asyncio.gather(
                *(self._storage.incr(count.key, count.seconds, hits) for count, hits in due)
            )
        except (StorageError, OSError) as exc:
            self._redis_failed(exc)
            return
        self._redis_answered()
        for (count, hits), total in zip(due, totals, strict=True):
            count.pending -= hits
            count.shared = total

    def _redis_failed(self, exc: BaseException) -> None:
        self._redis_down_until = time.time() + RETRY_REDIS_SECONDS
        if not self._warned:
            self._warned = True
            logger.warning(
                "rate limits: Redis unreachable (%s: %s); counting in this process alone "
                "until it answers",
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )

    def _redis_answered(self) -> None:
        if self._warned:
            self._warned = False
            logger.warning("rate limits: Redis answers again; counts are shared again")
