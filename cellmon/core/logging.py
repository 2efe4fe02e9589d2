"""Structured logs: one JSON object per line (or plain text for a developer's console)."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
# Uvicorn adds `color_message`, a copy of the message with terminal colour codes.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


# The id of the HTTP request being handled (core/request_tracking.py): on every record made
# while handling it, so that one request's lines can be found together.
current_request_id: ContextVar[str | None] = ContextVar("cellmon_request_id", default=None)

# The `key` query parameter of the students' events URL (the class's ingest key).
_KEY_PARAMETER = re.compile(r"(?<=[?&])key=[^&#\s]*")
MASKED_KEY = "key=***"


def mask_key(text: str) -> str:
    return _KEY_PARAMETER.sub(MASKED_KEY, text)


class MaskIngestKeys(logging.Filter):
    """Masks `key=...` in uvicorn's access-log lines (the request's path and query string is
    one of the record's arguments), so that an operator who turns the access log on
    (CELLMON_ACCESS_LOG) logs no class's ingest key."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_key(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = mask_key(record.msg)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO", fmt: str = "auto", *, access_log: bool = False) -> None:
    """Log to stderr: JSON for machines, plain lines on a developer's terminal ("auto");
    uvicorn's access log at INFO when `access_log` (CELLMON_ACCESS_LOG)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json" or (fmt == "auto" and not sys.stderr.isatty()):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Uvicorn's own handlers would print a second, unstructured copy of each line.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # httpx logs each of its requests at INFO: a line per InfluxDB write, in every process.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic's INFO lines (each plugin whenever its scripts load, the migration context, each
    # step) are chatter on every `cellmon db upgrade`, which says its outcome in one line;
    # warnings stay, and CELLMON_LOG_LEVEL=DEBUG shows them all.
    logging.getLogger("alembic").setLevel(
        logging.NOTSET if root.getEffectiveLevel() <= logging.DEBUG else logging.WARNING
    )
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    if not any(isinstance(existing, MaskIngestKeys) for existing in access.filters):
        access.addFilter(MaskIngestKeys())
