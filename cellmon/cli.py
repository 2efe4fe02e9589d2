"""The `cellmon` command line: serve, worker, db, dlq, users, simulate."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import re
import secrets
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from cellmon.core.errors import ConfigError
from cellmon.core.logging import configure_logging
from cellmon.core.preflight import check_production, check_services
from cellmon.core.runtime import tune_garbage_collector
from cellmon.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncSession
    from uvicorn import Config

    from cellmon.auth.principal import Principal
    from cellmon.core.bus import MessageBus
    from cellmon.core.database import Database
    from cellmon.db.models import User

logger = logging.getLogger(__name__)

# The first admin of a development server started with neither CELLMON_ADMIN_EMAIL nor an
# account: an address the e-mail rule (users/schemas.py) accepts and nobody receives mail at.
DEVELOPMENT_ADMIN_EMAIL = "admin@localhost"


class CommandError(Exception):
    """The command cannot do what was asked; the message says why (exit code 1)."""


def server_config(app: FastAPI, settings: Settings, host: str, port: int) -> Config:
    """How uvicorn serves cellmon; the tests' live server uses it too."""
    from uvicorn import Config

    from cellmon.core.server_protocols import (
        AnsweringWebSocketsProtocol,
        BoundedHttpToolsProtocol,
    )
    from cellmon.live.service import MAX_CLIENT_MESSAGE_BYTES

    return Config(
        app,
        host=host,
        port=port,
        # uvicorn's own (httptools, websockets sans-I/O), with a deadline on a request's head
        # and an answer to an upgrade whose head is too large.
        http=BoundedHttpToolsProtocol,
        ws=AnsweringWebSocketsProtocol,
        log_config=None,
        # Off, uvicorn does not even format a request's access-log arguments (about 6 us on
        # the one-event route).
        access_log=settings.CELLMON_ACCESS_LOG,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
        ws_ping_interval=settings.CELLMON_WS_PING_INTERVAL,
        ws_ping_timeout=settings.CELLMON_WS_PING_TIMEOUT,
        ws_max_size=MAX_CLIENT_MESSAGE_BYTES,
        # Compression would deflate each live frame once per client and keep a zlib context
        # per connection: against serializing once and against small idle connections.
        ws_per_message_deflate=False,
    )


def _prepare_metrics() -> None:
    """prometheus-client opens its files in PROMETHEUS_MULTIPROC_DIR as soon as cellmon's
    metrics are made (on import): the directory must exist first."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    _prepare_metrics()
    from cellmon.app import create_app
    from cellmon.core import metrics
    from cellmon.greeting import Greeting, GreetingServer

    _check_production(settings)
    asyncio.run(_check_ready(settings))
    new_password = asyncio.run(ensure_first_admin(settings))
    host = args.host or settings.CELLMON_HOST
    port = args.port or settings.CELLMON_PORT
    greeting = None
    if not settings.is_production:
        greeting = Greeting(
            host=host,
            port=port,
            admin_email=settings.CELLMON_ADMIN_EMAIL or DEVELOPMENT_ADMIN_EMAIL,
            new_password=new_password,
            storage=(
                "development, PostgreSQL"
                if settings.uses_postgres
                else f"development, embedded storage in {settings.CELLMON_DATA_DIR}"
            ),
        )
    app = create_app(settings)
    tune_garbage_collector()
    metrics.start_process()
    try:
        GreetingServer(server_config(app, settings, host, port), greeting).run()
    finally:
        metrics.end_process()


def _db(settings: Settings, args: argparse.Namespace) -> None:
    from cellmon.db import migrate

    asyncio.run(check_services(settings, database_only=True))
    before = asyncio.run(migrate.current_revision(settings.database_url))
    if args.db_command == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "head")
    elif args.db_command == "downgrade":
        migrate.downgrade(settings.database_url, args.revision or "base")
    # One line for what alembic's INFO chatter said (core/logging.py quiets it).
    after = asyncio.run(migrate.current_revision(settings.database_url))
    where = settings.database_url.render_as_string(hide_password=True)
    if after == before:
        print(f"cellmon: the database ({where}) is already at {after or 'no revision'}")
    else:
        print(f"cellmon: migrated the database ({where}) from {before or '-'} to {after or '-'}")


def _fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows, where uvicorn[standard] brings no uvloop
        return None
    return uvloop.new_event_loop


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    _prepare_metrics()
    from cellmon.core import metrics
    from cellmon.worker.runner import run_workers

    _check_production(settings)
    asyncio.run(_check_ready(settings))
    tune_garbage_collector()
    metrics.start_process()
    # The same event loop as `cellmon serve` (uvicorn picks uvloop): the worker's hot path is
    # socket round trips to Redis and PostgreSQL, where uvloop is markedly cheaper.
    try:
        with asyncio.Runner(loop_factory=_fast_event_loop()) as runner:
            runner.run(run_workers(settings, concurrency=args.concurrency))
    finally:
        metrics.end_process()


async def _check_ready(settings: Settings, *, database_only: bool = False) -> None:
    """The services answer and the database is migrated to this code's schema."""
    from cellmon.db import migrate

    await check_services(settings, database_only=database_only)
    await migrate.require_head(settings.database_url)


def _check_production(settings: Settings) -> None:
    from cellmon.auth.tokens import secret_key

    check_production(settings, secret_key)


def _dlq(settings: Settings, args: argparse.Namespace) -> None:
    if settings.is_production and not args.admin:
        raise CommandError("CELLMON_ENV=production: `cellmon dlq` needs --admin EMAIL")
    asyncio.run(_check_ready(settings))
    password = read_password(f"password of {args.admin}: ", confirm=False) if args.admin else None
    asyncio.run(_dlq_command(settings, args, password))


async def _dlq_command(settings: Settings, args: argparse.Namespace, password: str | None) -> None:
    from contextlib import AsyncExitStack

    from cellmon.audit import service as audit
    from cellmon.core.backends import build_queue
    from cellmon.core.database import Database
    from cellmon.events import dead_letters

    async with AsyncExitStack() as stack:
        database = Database(settings)
        stack.push_async_callback(database.dispose)
        admin = None
        if args.admin:
            assert password is not None
            admin = await _verified_admin(database, args.admin, password)
        if args.dlq_command == "list":
            letters = await dead_letters.list_dead_letters(database, args.limit)
            for letter in letters:
                print(
                    f"dead letter {letter.id}  failed {letter.failed_at.isoformat()}  "
                    f"after {letter.attempts} attempt(s)\n"
                    f"  event   {letter.event_type or '-'} {letter.event_id or '(unreadable)'}\n"
                    f"  reason  {failure_reason(letter.error)}"
                )
                if args.full:
                    print(textwrap.indent(letter.error, "  | "))
            print(f"{len(letters)} dead letter(s)", file=sys.stderr)
            return
        queue = build_queue(settings, database)
        await queue.start()
        stack.push_async_callback(queue.close)
        ids = None if args.all else args.ids
        count = await dead_letters.replay(database, queue, ids)
        async with database.sessions() as session:
            await audit.record(
                session, admin, "dlq.replay", "dead_letter", None, ids=ids, count=count
            )
            await session.commit()
        print(f"{count} dead letter(s) queued again", file=sys.stderr)


# How the asyncpg driver's errors read once SQLAlchemy's adapter has wrapped them:
# "<class 'asyncpg.exceptions.NumericValueOutOfRangeError'>: value out of int64 range".
_WRAPPED_ERROR = re.compile(r"^\w+: <class '(?:[\w.]*\.)?(\w+)'>: ")
REASON_MAX_CHARS = 300


def failure_reason(error: str) -> str:
    """A dead letter's error as one line: the exception's type and message (the driver's own
    type when SQLAlchemy's adapter wrapped it), whitespace folded, cut at REASON_MAX_CHARS."""
    reason = " ".join(_WRAPPED_ERROR.sub(r"\1: ", error.strip()).split()) or "(no error text)"
    if len(reason) > REASON_MAX_CHARS:
        return reason[: REASON_MAX_CHARS - 1] + "…"
    return reason


async def _verified_admin(database: Database, email: str, password: str) -> Principal:
    """The admin these credentials belong to, as the actor of what the command does."""
    from cellmon.auth import service
    from cellmon.auth.principal import Principal, Role

    async with database.sessions() as session:
        user = await service.authenticate(session, email, password)
        if user is None or user.role != Role.ADMIN.value:
            raise CommandError(f"{email}: not an active admin account, or the wrong password")
        await session.commit()
        # Signed in on the command line: no token, so nothing for signing out to revoke.
        return Principal(
            user_id=user.id, email=user.email, role=Role.ADMIN, token_id="", token_expires_at=0
        )


def read_password(prompt: str, *, confirm: bool) -> str:
    """A password from the terminal without echo (asked twice when `confirm`), or the first
    line of stdin when it is not a terminal; never from the command line, where `ps` and the
    shell's history would show it."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise CommandError("no password on stdin")
        return password
    password = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != password:
        raise CommandError("the two passwords differ")
    return password


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    from cellmon.core.database import Database

    await _check_ready(settings, database_only=True)
    database = Database(settings)
    try:
        async with database.sessions() as session:
            yield session
    finally:
        await database.dispose()


@asynccontextmanager
async def _bus(settings: Settings) -> AsyncIterator[MessageBus]:
    """The servers' bus, to tell them of what the command changed (with Redis; the embedded
    bus reaches no other process)."""
    from cellmon.core.backends import build_bus

    bus = build_bus(settings)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


def _valid_email(email: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from cellmon.users.schemas import EmailAddress

    try:
        return TypeAdapter(EmailAddress).validate_python(email)
    except ValidationError as exc:
        raise CommandError(f"{email!r} is not an e-mail address") from exc


async def _create_user(
    session: AsyncSession, email: str, password: str, role: str, full_name: str | None, via: str
) -> User:
    from cellmon.audit import service as audit
    from cellmon.auth import service
    from cellmon.auth.principal import Role

    user = await service.create_user(
        session, email=email, password=password, role=Role(role), full_name=full_name
    )
    await audit.record(session, None, "user.create", "user", user.id, role=user.role, via=via)
    await session.commit()
    return user


async def _user(session: AsyncSession, email: str) -> User:
    from cellmon.auth import repository

    user = await repository.get_by_email(session, email)
    if user is None:
        raise CommandError(f"no account has the e-mail address {email!r}")
    return user


def _users(settings: Settings, args: argparse.Namespace) -> None:
    from cellmon.auth.service import WeakPassword
    from cellmon.core.errors import ConflictError

    if args.users_command in ("create-admin", "create"):
        email = _valid_email(args.email)
        role = "admin" if args.users_command == "create-admin" else args.role
        password = read_password(f"password for {email}: ", confirm=True)
        try:
            asyncio.run(_users_create(settings, email, password, role, args.name))
        except (WeakPassword, ConflictError) as exc:
            raise CommandError(str(exc)) from exc
    elif args.users_command == "list":
        asyncio.run(_users_list(settings))
    elif args.users_command == "disable":
        asyncio.run(_users_disable(settings, args.email))
    elif args.users_command == "reset-password":
        password = read_password(f"new password for {args.email}: ", confirm=True)
        try:
            asyncio.run(_users_reset_password(settings, args.email, password))
        except WeakPassword as exc:
            raise CommandError(str(exc)) from exc


async def _users_create(
    settings: Settings, email: str, password: str, role: str, full_name: str | None
) -> None:
    async with _session(settings) as session:
        user = await _create_user(session, email, password, role, full_name, via="cli")
        print(f"created {user.role} account {user.id} ({user.email})")


async def _users_list(settings: Settings) -> None:
    from cellmon.auth import repository

    async with _session(settings) as session:
        users = await repository.list_users(session, skip=0, limit=1_000_000)
    for user in users:
        last = user.last_login_at.isoformat() if user.last_login_at else "never"
        state = "active" if user.is_active else "disabled"
        print(f"{user.id}\t{user.email}\t{user.role}\t{state}\tlast sign-in {last}")
    print(f"{len(users)} account(s)", file=sys.stderr)


async def _users_disable(settings: Settings, email: str) -> None:
    from cellmon.audit import service as audit
    from cellmon.auth import service
    from cellmon.core.unit_of_work import commit

    async with _session(settings) as session, _bus(settings) as bus:
        user = await _user(session, email)
        user.is_active = False
        service.end_all_sessions(session, bus, user)
        await audit.record(session, None, "user.update", "user", user.id, is_active=False)
        await commit(session)
        print(f"disabled account {user.id}; its sessions have ended")


async def _users_reset_password(settings: Settings, email: str, password: str) -> None:
    from cellmon.audit import service as audit
    from cellmon.auth import service
    from cellmon.core.unit_of_work import commit

    async with _session(settings) as session, _bus(settings) as bus:
        user = await _user(session, email)
        await service.set_password(session, bus, user, password)
        await audit.record(session, None, "user.password_reset", "user", user.id)
        await commit(session)
        print(f"new password set for account {user.id}; its sessions have ended")


async def ensure_first_admin(settings: Settings) -> str | None:
    """On `cellmon serve`, when no account exists: CELLMON_ADMIN_EMAIL + _PASSWORD make that
    admin; with neither, development makes `admin@localhost` with a random password, returned
    for the greeting to print once on stdout (never logged, so it reaches no log store), and
    production logs how to make one. Servers starting at once: one creates the account, the
    others find it taken."""
    from cellmon.auth import repository
    from cellmon.auth.service import WeakPassword
    from cellmon.core.errors import ConflictError

    email = settings.CELLMON_ADMIN_EMAIL or None
    given = settings.CELLMON_ADMIN_PASSWORD
    password = given.get_secret_value() if given is not None else ""
    if bool(email) != bool(password):
        raise ConfigError(
            "CELLMON_ADMIN_EMAIL and CELLMON_ADMIN_PASSWORD: set both (or neither) to create "
            "the first admin"
        )
    if email is not None:
        try:
            email = _valid_email(email)
        except CommandError as exc:
            raise ConfigError(f"CELLMON_ADMIN_EMAIL: {exc}") from exc
    async with _session(settings) as session:
        if await repository.count_users(session):
            return None
        if email is None and settings.is_production:
            logger.warning(
                "no account exists: create the first admin with `cellmon users create-admin "
                "EMAIL` (password on stdin), or set CELLMON_ADMIN_EMAIL and "
                "CELLMON_ADMIN_PASSWORD"
            )
            return None
        generated = email is None
        if generated:
            password = secrets.token_urlsafe(18)
        try:
            await _create_user(
                session,
                email or DEVELOPMENT_ADMIN_EMAIL,
                password,
                "admin",
                None,
                via="first start",
            )
        except WeakPassword as exc:
            raise ConfigError(f"CELLMON_ADMIN_PASSWORD: {exc}") from exc
        except ConflictError:
            return None  # another server process, starting at the same time, made it
    if generated:
        return password
    logger.info("created the first admin account from CELLMON_ADMIN_EMAIL")
    return None


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text}: not above 0")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _simulate(settings: Settings, args: argparse.Namespace) -> None:
    from rich.console import Console

    from cellmon.simulate.account import SetupError
    from cellmon.simulate.runner import SimulationOptions, run

    if args.email and args.key:
        raise CommandError("--email makes a class and its key: give it or --key, not both")
    password = None
    if args.email:
        password = os.environ.get("CELLMON_SIMULATE_PASSWORD") or read_password(
            f"password of {args.email}: ", confirm=False
        )
    options = SimulationOptions(
        url=args.url,
        students=args.students,
        minutes=args.minutes,
        seed=secrets.randbelow(1_000_000) if args.seed is None else args.seed,
        speed=args.speed,
        email=args.email,
        password=password,
        key=args.key,
        connections=args.connections,
    )
    try:
        result = run(options, Console())
    except SetupError as exc:
        raise CommandError(str(exc)) from exc
    if result.stopped:
        sys.exit(130)
    if result.stats.rejected or result.stats.failed:
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    from cellmon.simulate import DEFAULT_CONNECTIONS, DEFAULT_URL

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
    dlq.add_argument(
        "--admin",
        metavar="EMAIL",
        help="an admin's e-mail address, its password on stdin (required in production)",
    )
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="show dead letters, oldest first")
    dlq_list.add_argument("--limit", type=int, default=100)
    dlq_list.add_argument(
        "--full", action="store_true", help="print each error's whole text below its reason"
    )
    dlq_replay = dlq_commands.add_parser("replay", help="queue dead letters again, remove them")
    which = dlq_replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", type=int, action="append", help="a dead letter's id")
    which.add_argument("--all", action="store_true", help="every dead letter")
    dlq.set_defaults(handler=_dlq)

    users = commands.add_parser("users", help="accounts (passwords are read from stdin)")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    create_admin = users_commands.add_parser("create-admin", help="create an admin account")
    create_admin.add_argument("email")
    create_admin.add_argument("--name", help="the account's full name")
    create = users_commands.add_parser("create", help="create an account")
    create.add_argument("email")
    create.add_argument("--role", required=True, choices=["admin", "instructor", "student"])
    create.add_argument("--name", help="the account's full name")
    users_commands.add_parser("list", help="every account")
    disable = users_commands.add_parser("disable", help="disable an account, end its sessions")
    disable.add_argument("email")
    reset = users_commands.add_parser(
        "reset-password", help="set an account's password, end its sessions"
    )
    reset.add_argument("email")
    users.set_defaults(handler=_users)

    simulate = commands.add_parser(
        "simulate",
        help="simulate a class of students posting to a cellmon server (a demo, a load)",
        description="Simulate a class running a lesson's notebook: each student's events posted "
        "as the JupyterLab extension posts them. With --email (an instructor's or admin's "
        "account; its password from CELLMON_SIMULATE_PASSWORD, or asked) it makes a class and "
        "its ingest key first. Ctrl-C stops it with the summary.",
    )
    simulate.add_argument("--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})")
    simulate.add_argument("--students", type=_positive(int), default=200, help="default 200")
    simulate.add_argument(
        "--minutes", type=_positive(float), default=10.0, help="the lesson's length (default 10)"
    )
    simulate.add_argument(
        "--seed", type=int, help="the same seed, the same class and events (default: random)"
    )
    simulate.add_argument(
        "--speed",
        type=_positive(float),
        default=1.0,
        help="lesson time runs this many times faster (a load: e.g. 10; default 1)",
    )
    simulate.add_argument(
        "--email",
        default=os.environ.get("CELLMON_SIMULATE_EMAIL"),
        help="the account that makes the class (default: CELLMON_SIMULATE_EMAIL)",
    )
    simulate.add_argument(
        "--key",
        default=os.environ.get("CELLMON_SIMULATE_KEY"),
        help="instead of --email, post to the class of this ingest key (CELLMON_SIMULATE_KEY)",
    )
    simulate.add_argument(
        "--connections",
        type=_positive(int),
        default=DEFAULT_CONNECTIONS,
        help=f"HTTP connections at most (default {DEFAULT_CONNECTIONS})",
    )
    simulate.set_defaults(handler=_simulate)

    db = commands.add_parser("db", help="database migrations")
    db.add_argument("db_command", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / base)")
    db.set_defaults(handler=_db)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(
            settings.CELLMON_LOG_LEVEL,
            settings.CELLMON_LOG_FORMAT,
            access_log=settings.CELLMON_ACCESS_LOG,
        )
        handler: Callable[[Settings, argparse.Namespace], None] = args.handler
        handler(settings, args)
    except ConfigError as exc:
        print(f"cellmon: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except CommandError as exc:
        print(f"cellmon: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
