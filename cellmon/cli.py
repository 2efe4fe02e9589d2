"""The `cellmon` command line: serve, worker, db, dlq."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cellmon.core.errors import ConfigError
from cellmon.core.logging import configure_logging
from cellmon.core.preflight import check_services
from cellmon.core.runtime import tune_garbage_collector
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
        # Compression would deflate each live frame once per client and keep a zlib context
        # per connection: against serializing once and against small idle connections.
        ws_per_message_deflate=False,
    )


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from cellmon.app import create_app

    asyncio.run(check_services(settings))
    host = args.host or settings.CELLMON_HOST
    port = args.port or settings.CELLMON_PORT
    app = create_app(settings)
    tune_garbage_collector()
    uvicorn.Server(server_config(app, settings, host, port)).run()


def _db(settings: Settings, args: argparse.Namespace) -> None:
    from cellmon.db import migrate

    asyncio.run(check_services(settings, database_only=True))
    if args.db_command == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "head")
    elif args.db_command == "downgrade":
        migrate.downgrade(settings.database_url, args.revision or "base")


def _fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows, where uvicorn[standard] brings no uvloop
        return None
    return uvloop.new_event_loop


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    from cellmon.worker.runner import run_workers

    asyncio.run(check_services(settings))
    tune_garbage_collector()
    # The same event loop as `cellmon serve` (uvicorn picks uvloop): the worker's hot path is
    # socket round trips to Redis and PostgreSQL, where uvloop is markedly cheaper.
    with asyncio.Runner(loop_factory=_fast_event_loop()) as runner:
        runner.run(run_workers(settings, concurrency=args.concurrency))


def _dlq(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(check_services(settings))
    asyncio.run(_dlq_command(settings, args))


async def _dlq_command(settings: Settings, args: argparse.Namespace) -> None:
    from contextlib import AsyncExitStack

    from cellmon.core.backends import build_queue
    from cellmon.core.database import Database
    from cellmon.events import dead_letters

    async with AsyncExitStack() as stack:
        database = Database(settings)
        stack.push_async_callback(database.dispose)
        if args.dlq_command == "list":
            letters = await dead_letters.list_dead_letters(database, args.limit)
            for letter in letters:
                print(
                    f"{letter.id}\t{letter.failed_at.isoformat()}\t{letter.event_type}\t"
                    f"{letter.event_id}\tattempts={letter.attempts}\t{letter.error.splitlines()[0]}"
                )
            print(f"{len(letters)} dead letter(s)", file=sys.stderr)
            return
        queue = build_queue(settings, database)
        await queue.start()
        stack.push_async_callback(queue.close)
        ids = None if args.all else args.ids
        count = await dead_letters.replay(database, queue, ids)
        print(f"{count} dead letter(s) queued again", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cellmon", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API, /ws and the dashboard")
    serve.add_argument("--host", help="address to bind (default: CELLMON_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: CELLMON_PORT)")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="process queued events until SIGTERM / SIGINT")
    # Two: one batch is recorded while the other waits on PostgreSQL (docs/operations.md).
    worker.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="batches recorded at once in this process (default 2)",
    )
    worker.set_defaults(handler=_worker)

    dlq = commands.add_parser("dlq", help="events that kept failing (dead letters)")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="show dead letters, oldest first")
    dlq_list.add_argument("--limit", type=int, default=100)
    dlq_replay = dlq_commands.add_parser("replay", help="queue dead letters again, remove them")
    which = dlq_replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", type=int, action="append", help="a dead letter's id")
    which.add_argument("--all", action="store_true", help="every dead letter")
    dlq.set_defaults(handler=_dlq)

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
