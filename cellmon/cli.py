"""The `cellmon` command line: serve, worker, db."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cellmon.core.errors import ConfigError
from cellmon.core.logging import configure_logging
from cellmon.core.preflight import check_services
from cellmon.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from uvicorn import Config


def server_config(app: FastAPI, settings: Settings, host: str, port: int) -> Config:
    """How uvicorn serves cellmon; the tests' live server uses it too."""
    from uvicorn import Config

    from cellmon.live.service import MAX_CLIENT_MESSAGE_BYTES

    return Config(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
        ws_ping_interval=settings.CELLMON_WS_PING_INTERVAL,
        ws_ping_timeout=settings.CELLMON_WS_PING_TIMEOUT,
        ws_max_size=MAX_CLIENT_MESSAGE_BYTES,
    )


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from cellmon.app import create_app

    asyncio.run(check_services(settings))
    host = args.host or settings.CELLMON_HOST
    port = args.port or settings.CELLMON_PORT
    uvicorn.Server(server_config(create_app(settings), settings, host, port)).run()


def _db(settings: Settings, args: argparse.Namespace) -> None:
    from cellmon.db import migrate

    asyncio.run(check_services(settings, database_only=True))
    if args.db_command == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "head")
    elif args.db_command == "downgrade":
        migrate.downgrade(settings.database_url, args.revision or "base")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cellmon", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API, /ws and the dashboard")
    serve.add_argument("--host", help="address to bind (default: CELLMON_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: CELLMON_PORT)")
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database migrations")
    db.add_argument("db_command", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / base)")
    db.set_defaults(handler=_db)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.CELLMON_LOG_LEVEL, settings.CELLMON_LOG_FORMAT)
        handler: Callable[[Settings, argparse.Namespace], None] = args.handler
        handler(settings, args)
    except ConfigError as exc:
        print(f"cellmon: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
