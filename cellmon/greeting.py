"""What a development server says once it listens (`make run`): where to go, how to sign in,
and the next step, on one screen."""

from __future__ import annotations

import shlex
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from cellmon.simulate import DEFAULT_URL as SIMULATE_DEFAULT_URL

ALL_ADDRESSES = {"0.0.0.0", "::", ""}


@dataclass(frozen=True, slots=True)
class Greeting:
    host: str
    port: int
    admin_email: str
    # The first admin's password when this start made it; printed here, and nowhere else.
    new_password: str | None
    storage: str

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ALL_ADDRESSES else self.host
        return f"http://{host}:{self.port}"

    def simulate_command(self) -> str:
        words = [*command_words(), "simulate", "--email", self.admin_email]
        if self.base_url != SIMULATE_DEFAULT_URL:
            words += ["--url", self.base_url]
        return shlex.join(words)

    def text(self) -> str:
        url = self.base_url
        if self.new_password is not None:
            sign_in = [
                f"  Sign in    {self.admin_email}",
                f"  Password   {self.new_password}",
                "             (shown only now; `cellmon users reset-password "
                f"{self.admin_email}` sets another)",
            ]
            asks = "it asks for the password above"
        else:
            sign_in = [
                f"  Sign in    {self.admin_email}, or another account (`cellmon users list`)",
                "             (its password was shown at the first start; `cellmon users "
                f"reset-password {self.admin_email}` sets another)",
            ]
            asks = "it asks for the account's password"
        listening = (
            [f"  (listening on every address of this machine, port {self.port})"]
            if self.host in ALL_ADDRESSES
            else []
        )
        lines = [
            "",
            f"cellmon is running ({self.storage})",
            "",
            f"  Dashboard  {url}/dashboard",
            f"  API docs   {url}/docs",
            *listening,
            "",
            *sign_in,
            "",
            "Next: a simulated class of 200 students, in another terminal:",
            f"  {self.simulate_command()}",
            f"  ({asks}, makes a class and its ingest key, and runs a 10-minute lesson;",
            "  then open the dashboard and pick the class)",
            "",
            "Ctrl-C stops the server.",
            "",
        ]
        return "\n".join(lines)


def command_words() -> list[str]:
    """How this shell reached `cellmon`: `.venv/bin/cellmon` from the project's folder (as
    `make run` does), `cellmon` when it is on the PATH elsewhere, or `python -m cellmon`."""
    program = Path(sys.argv[0])
    if program.name != "cellmon":
        return [_relative(Path(sys.executable)), "-m", "cellmon"]
    if not program.absolute().is_relative_to(Path.cwd()):
        # A shell that found it on the PATH hands Python its full path: say the short name.
        on_path = shutil.which("cellmon")
        if on_path is not None and Path(on_path).resolve() == program.resolve():
            return ["cellmon"]
    return [_relative(program)]


def _relative(path: Path) -> str:
    absolute = path.absolute()
    if not absolute.is_relative_to(Path.cwd()):
        return str(path)
    inside = absolute.relative_to(Path.cwd())
    return str(inside) if inside.parent != Path() else f"./{inside}"


class GreetingServer(uvicorn.Server):
    """uvicorn's server, which prints the greeting once it listens."""

    def __init__(self, config: uvicorn.Config, greeting: Greeting | None) -> None:
        super().__init__(config)
        self.greeting = greeting

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.greeting is not None:
            print(self.greeting.text(), flush=True)
