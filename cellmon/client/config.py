"""What the kernel-side client is told: where to send, who the student is, where to queue.

Every setting is a traitlet of `CellmonClient`, so it can be set in an IPython profile
(`c.CellmonClient.email = ...`), live in a notebook (`%config CellmonClient.email = ...`), or
left to its environment variable, which a teacher sets once for every student (an image, a
JupyterHub spawner, a shell profile).

Standard library and traitlets (which IPython brings) only: the client must import without
the server's dependencies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from traitlets import Float, Int, Unicode, default
from traitlets.config import Configurable

EVENTS_PATH = "/api/v1/events"
# The published JupyterLab extension's default serverUrl: the same server on the same laptop.
DEFAULT_SERVER_URL = f"http://localhost:8000{EVENTS_PATH}"
KEY_PARAMETER = "key"
UNKNOWN_NOTEBOOK = "unknown"
# Where kernels say which notebook they run: ipykernel (from JPY_SESSION_NAME, which
# jupyter_server sets) and VS Code put the path in the user's namespace under these names.
NOTEBOOK_NAMESPACE_NAMES = ("__session__", "__vsc_ipynb_file__")


def _environment(*names: str) -> str:
    """The first of these environment variables that is set and not blank, else ""."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return ""


def default_queue_path() -> Path:
    """The student's own data folder (XDG), which outlives the kernel and the notebook."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cellmon" / "client-queue.sqlite3"


class CellmonClient(Configurable):
    """Settings of the cellmon kernel-side client."""

    server_url = Unicode(
        help="The class's events URL (what the JupyterLab extension calls serverUrl), or the "
        "server's address alone, to which /api/v1/events is added. Default: "
        "$CELLMON_SERVER_URL, else http://localhost:8000/api/v1/events."
    ).tag(config=True)
    ingest_key = Unicode(
        help="The class's ingest key, when server_url does not carry it already "
        "(default: $CELLMON_INGEST_KEY)."
    ).tag(config=True)
    email = Unicode(
        help="The student's identity (default: $CELLMON_EMAIL, else $JUPYTERHUB_USER)."
    ).tag(config=True)
    user_name = Unicode(
        help="The student's name as instructors see it (default: $CELLMON_USER_NAME, else "
        "$JUPYTERHUB_USER)."
    ).tag(config=True)
    team_name = Unicode(help="The student's team (default: $CELLMON_TEAM_NAME).").tag(config=True)
    notebook_path = Unicode(
        help="The notebook's path. Default: $CELLMON_NOTEBOOK_PATH, else what the kernel says "
        "(JPY_SESSION_NAME, __session__, __vsc_ipynb_file__), else 'unknown'."
    ).tag(config=True)
    queue_path = Unicode(
        help="The SQLite file that holds events until the server took them (default: "
        "$CELLMON_CLIENT_QUEUE, else $XDG_DATA_HOME/cellmon/client-queue.sqlite3)."
    ).tag(config=True)
    max_output_chars = Int(
        10_000, help="Captured output and result text kept per cell; the rest is cut."
    ).tag(config=True)
    batch_size = Int(100, help="Events sent in one request at most.").tag(config=True)
    batch_seconds = Float(2.0, help="How long an event waits for others to share its request.").tag(
        config=True
    )

    @default("server_url")
    def _default_server_url(self) -> str:
        return _environment("CELLMON_SERVER_URL") or DEFAULT_SERVER_URL

    @default("ingest_key")
    def _default_ingest_key(self) -> str:
        return _environment("CELLMON_INGEST_KEY")

    @default("email")
    def _default_email(self) -> str:
        return _environment("CELLMON_EMAIL", "JUPYTERHUB_USER")

    @default("user_name")
    def _default_user_name(self) -> str:
        return _environment("CELLMON_USER_NAME", "JUPYTERHUB_USER")

    @default("team_name")
    def _default_team_name(self) -> str:
        return _environment("CELLMON_TEAM_NAME")

    @default("notebook_path")
    def _default_notebook_path(self) -> str:
        return _environment("CELLMON_NOTEBOOK_PATH", "JPY_SESSION_NAME")

    @default("queue_path")
    def _default_queue_path(self) -> str:
        return _environment("CELLMON_CLIENT_QUEUE") or str(default_queue_path())

    def events_url(self) -> str:
        return events_url(self.server_url, self.ingest_key)

    def notebook_in(self, namespace: dict[str, Any]) -> str:
        """The configured path, else the one the kernel put in the user's namespace."""
        if self.notebook_path:
            return str(self.notebook_path)
        for name in NOTEBOOK_NAMESPACE_NAMES:
            value = namespace.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return UNKNOWN_NOTEBOOK


def events_url(server_url: str, ingest_key: str = "") -> str:
    """The URL to post to: /api/v1/events added to a bare address, the key added unless the
    URL carries one already (as the events URL an instructor hands out does)."""
    parts = urlsplit(server_url.strip())
    path = parts.path if parts.path not in ("", "/") else EVENTS_PATH
    query = parse_qsl(parts.query, keep_blank_values=True)
    if ingest_key and not any(name == KEY_PARAMETER for name, _ in query):
        query.append((KEY_PARAMETER, ingest_key))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))
