"""Benchmark: one night of ``xmlsync sync`` against ``build --state`` + ``push --state``, in one run.

    python benchmarks/sync.py                 # 100,000 projects, 1% changed
    python benchmarks/sync.py --sizes 10000 100000 --changed 0.01

A stand-in for MiniCRM's SyncFeed runs on loopback (it reads the upload and answers ``{"Status": "OK"}``).
For each size: night 1 sends every project (timed as ``sync, first night``); then 1% of the projects get a new
Name, and from copies of the state file after night 1 the same night runs twice, as ``xmlsync sync`` and as
``xmlsync build --state`` followed by ``xmlsync push --state``. Each is a separate process, timed from start
to exit, with its peak RSS (see ``run.measure``); the ratio column is the row's time over the two-step job's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402
from run import XMLSYNC, compiled, measure  # noqa: E402

SYSTEM, KEY = "12345", "benchmark-key"


class StandIn(BaseHTTPRequestHandler):
    """MiniCRM's SyncFeed as far as a push sees it: read the feed, answer JSON."""

    received = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            left -= len(self.rfile.read(min(left, 1 << 20)))
        StandIn.received += 1
        body = b'{"Status": "OK"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def changed(source: Path, target: Path, share: float) -> int:
    """Copy a JSON Lines feed, renaming every n-th project; return how many were changed."""
    every, count = max(1, round(1 / share)), 0
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            if number % every == 0:
                record = json.loads(line)
                record["Name"] = f"{record['Name']} (renamed)"
                line = json.dumps(record, ensure_ascii=False) + "\n"
                count += 1
            out.write(line)
    return count


def night(size: int, work: Path, share: float, url: str) -> list[tuple[str, float, float]]:
    first, second = work / f"night1-{size}.jsonl", work / f"night2-{size}.jsonl"
    generate(size, first, None)
    renamed = changed(first, second, share)
    state = work / f"state-{size}.db"
    sync = [*XMLSYNC, "sync", "--state"]
    rows = [("sync, first night", *measure([*sync, str(state), str(first), "--quiet"]))]
    for copy in ("a", "b"):
        shutil.copy(state, work / f"state-{size}-{copy}.db")
    nights = work / "nights"
    time_sync, rss_sync = measure([*sync, str(work / f"state-{size}-a.db"), str(second), "--nights", str(nights)])
    out = work / f"delta-{size}.xml"
    b_state = str(work / f"state-{size}-b.db")
    time_build, rss_build = measure([*XMLSYNC, "build", str(second), "-o", str(out), "--state", b_state, "--quiet"])
    time_push, rss_push = measure([*XMLSYNC, "push", str(out), "--state", b_state])
    rows += [
        (f"sync, {renamed:,} changed", time_sync, rss_sync),
        (f"build --state, {renamed:,} changed", time_build, rss_build),
        ("push --state", time_push, rss_push),
        ("build + push", time_build + time_push, max(rss_build, rss_push)),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="projects per run")
    parser.add_argument("--changed", type=float, default=0.01, help="share of the projects changed on night 2")
    parser.add_argument("--work", type=Path, default=None, help="data folder (default: a temporary one)")
    args = parser.parse_args()
    compiled()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ.update(MINICRM_SYSTEM_ID=SYSTEM, MINICRM_API_KEY=KEY, MINICRM_BASE_URL=url)
    work = args.work or Path(tempfile.mkdtemp(prefix="xmlsync-sync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {' '.join(sys.argv)}")
        print(f"{'projects':>9}  {'task':<36} {'time s':>8} {'peak RSS MB':>12} {'/ build + push':>15}")
        for size in args.sizes:
            rows = night(size, work, args.changed, url)
            both = rows[-1][1]
            for task, seconds, rss in rows:
                ratio = f"{seconds / both:14.2f}x" if task.startswith("sync,") and "first" not in task else ""
                print(f"{size:>9,}  {task:<36} {seconds:8.2f} {rss:12.1f} {ratio:>15}")
        print(f"requests the stand-in received: {StandIn.received}")
    finally:
        server.shutdown()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
