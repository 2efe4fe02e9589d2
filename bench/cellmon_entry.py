"""`cellmon` for the benchmark, when the settings cannot read INFLUXDB_API_VERSION=1 from
the environment (pydantic refuses the string "1" for `Literal[1, 2]`): the same command line,
with that one value passed as a number. Used only while the settings refuse it.

    python -m bench.cellmon_entry serve|worker|db ...
"""

from __future__ import annotations

import os

from pydantic import ValidationError

from cellmon import cli
from cellmon.core.settings import Settings


def environment_is_readable() -> bool:
    try:
        Settings(_env_file=None, INFLUXDB_API_VERSION="1")  # type: ignore[arg-type]
    except ValidationError:
        return False
    return True


def main() -> None:
    version = os.environ.pop("INFLUXDB_API_VERSION", None)
    read_settings = cli.load_settings

    def load_settings() -> Settings:
        settings = read_settings()
        if version is None:
            return settings
        return settings.model_copy(update={"INFLUXDB_API_VERSION": int(version)})

    cli.load_settings = load_settings
    cli.main()


if __name__ == "__main__":
    main()
