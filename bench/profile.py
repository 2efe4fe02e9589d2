"""Where the time goes: py-spy samples `cellmon serve` and each `cellmon worker` while wrk
drives the ingest load, then the hottest functions are printed (self and inclusive share).

    python -m bench.profile [--mode production|embedded] [--workers N] [--batch N] [--seconds S]

Needs py-spy (`pip install py-spy`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.ingest import Load, Options, run_wrk
from bench.stack import (
    InfluxServer,
    Stack,
    cellmon_server,
    cellmon_workers,
    free_port,
    processes,
    raise_open_files_limit,
    wait_workers,
)


def hot_spots(raw: Path, top: int) -> str:
    """Summarise py-spy's collapsed stacks: the functions with most samples."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(frame.startswith("Thread._bootstrap") for frame in frames):
            continue  # helper threads (anyio's, asyncpg's) wait most of the time
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "  no samples"
    lines = [f"  {total} samples; self time:"]
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  inclusive time:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--mode", choices=["production", "embedded"], default="production")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep py-spy's raw stacks")
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    raise_open_files_limit()
    influx = InfluxServer()
    await asyncio.to_thread(influx.start)
    stack = Stack(args.mode, influx if args.mode == "production" else None)
    await stack.create()
    folder = Path(tempfile.mkdtemp(prefix="cellmon-profile-"))
    try:
        port = free_port()
        server = cellmon_server(stack, port)
        workers = cellmon_workers(stack, args.workers if args.mode == "production" else 0)
        with processes(*workers, server):
            await wait_workers(stack, len(workers))
            credentials = await asyncio.to_thread(stack.sign_in, port)
            samplers = {
                item.name: subprocess.Popen(  # noqa: ASYNC220 (started, not waited for)
                    [
                        "py-spy",
                        "record",
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--duration",
                        str(args.seconds + 3),
                        "--nonblocking",
                        "--pid",
                        str(item.popen.pid),
                        "--output",
                        str(folder / f"{item.name}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for item in (server, *workers)
            }
            load = Load(f"batch {args.batch}", args.batch, args.connections)
            options = Options(args.seconds, 0, (), (load,))
            wrk = await asyncio.to_thread(
                run_wrk, port, load, options.duration, credentials.events_path
            )
            accepted = (wrk["requests"] - wrk["status_errors"]) * args.batch
            print(f"accepted {accepted:,} events in {wrk['duration_us'] / 1e6:.1f} s")
            for name, sampler in samplers.items():
                await asyncio.to_thread(sampler.wait)
                print(f"{name}:")
                print(hot_spots(folder / f"{name}.txt", args.top))
            print(f"rows, points so far: {await stack.count_processed()}")
    finally:
        await stack.destroy()
        await asyncio.to_thread(influx.stop)
        if args.keep:
            print(f"raw stacks in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
