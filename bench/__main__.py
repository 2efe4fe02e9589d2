"""Run the benchmarks and write their figures into docs/benchmarks.md.

python -m bench [ingest|ws|all|dashboard] [--quick] [--no-write] [--load single|batches]
                [--trace FILE]

`all` is the ingest and WebSocket benchmarks; `dashboard` (the instructor's page in Chromium
under a lecture hall's load) runs alone.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import dashboard, dashboard_report, ingest, report, ws
from bench.stack import ROOT, InfluxServer, raise_open_files_limit


def log(message: str) -> None:
    print(message, flush=True)


def start_services() -> None:
    """PostgreSQL, Redis (and InfluxDB, once scripts/services.sh starts it) as the tests use."""
    script = ROOT / "scripts" / "services.sh"
    if script.exists():
        subprocess.run(["bash", str(script), "up"], check=True)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "which", nargs="?", choices=["ingest", "ws", "all", "dashboard"], default="all"
    )
    parser.add_argument("--quick", action="store_true", help="short runs, for development")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument(
        "--load",
        choices=["single", "batches"],
        help="ingest: only one-event requests, or only batches of 100 (implies --no-write: "
        "the page's table holds both)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="dashboard: write a DevTools trace of the 100 events/s phase to FILE and print "
        "where the page's main thread went (implies --no-write: tracing slows the page)",
    )
    args = parser.parse_args()
    command = "python -m bench " + shlex.join(sys.argv[1:])
    limit = raise_open_files_limit()
    load_before = os.getloadavg()
    log(
        f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
        f"open files limit {limit}"
    )
    await asyncio.to_thread(start_services)
    influx = InfluxServer()
    await asyncio.to_thread(influx.start)
    started = time.monotonic()
    figures: dict[str, Any] = {}
    try:
        if args.which in ("ingest", "all"):
            options = ingest.QUICK if args.quick else ingest.FULL
            if args.load:
                wanted = 1 if args.load == "single" else 100
                loads = tuple(load for load in options.loads if load.batch == wanted)
                options = dataclasses.replace(options, loads=loads)
            results = await ingest.run(options, influx, log)
            figures["ingest"] = [result.as_dict() for result in results]
        if args.which in ("ws", "all"):
            targets = await ws.run(ws.QUICK if args.quick else ws.FULL, influx, log)
            figures["ws"] = [target.as_dict() for target in targets]
        if args.which == "dashboard":
            hall = dashboard.QUICK if args.quick else dashboard.FULL
            hall = dataclasses.replace(hall, trace=args.trace)
            figures["dashboard"] = await dashboard.run(hall, influx, log)
    finally:
        influx.stop()
    log(json.dumps(figures, indent=1))
    log(f"benchmarks took {time.monotonic() - started:.0f} s")
    if args.no_write or args.load or args.trace:
        return
    header = report.machine(command + (" (quick)" if args.quick else ""), load_before)
    if "ingest" in figures:
        report.write_section("ingest", report.ingest_section(figures["ingest"], header))
    if "ws" in figures:
        report.write_section("ws", report.ws_section(figures["ws"], header))
    if "dashboard" in figures:
        report.write_section("dashboard", dashboard_report.section(figures["dashboard"], header))
    log(f"wrote {report.DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
