"""Benchmark: xmlsync build and validate against its peers, in one run, on generated data.

    pip install -e '.[bench]'
    python benchmarks/run.py                      # 10k and 100k projects
    python benchmarks/run.py --sizes 1000000 --only-xmlsync

Every measurement is a separate process, timed from start to exit (interpreter start and imports
included, for every contender alike, its bytecode compiled first as an installed package has it); its
peak memory is read from /proc (see :func:`measure`). After the runs, the outputs are compared: the
raw-string baseline and xmlsync from JSON Lines, from CSV and with ``--jobs`` must be byte-identical, and
xmlschema's and xsdata's output the same feed (C14N, indentation ignored; compared at 20,000 projects and
below). A ratio column is the row's time over that of ``xmlsync build`` from JSON Lines with one process
(``/ -j 1``) or with ``--jobs 2`` (``/ -j 2``); for ``lxml assertValid``, over ``xmlsync validate``. So
``12.0x`` means xmlsync is twelve times faster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

BIN = Path(sys.executable).parent
XMLSYNC = [str(BIN / "xmlsync")]
CONTENDERS = [sys.executable, str(HERE / "contenders.py")]
JOBS = 2  # worker processes for the --jobs rows (this machine: see the first line of the output)
BUILD = "xmlsync build, JSONL"
SLOW_PEERS = ("xmlschema encode", "xsdata XmlSerializer")  # run once: minutes each, and far off anyway
CHECK_UP_TO = 20_000  # projects: C14N-compare the peers' output at this size and below (it takes GBs above)


@dataclass
class Run:
    task: str
    size: int
    seconds: float
    rss_mb: float
    baselines: tuple[str, ...] = ()  # the tasks this one is compared with (time of this / time of that)


def _status_kb(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), 0)


def _tree(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants (Linux /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            pending.extend(int(child) for child in Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except OSError:
            continue
    return found


def measure(command: list[str], *, allow_failure: bool = False) -> tuple[float, float]:
    """Run ``command``; return its wall time in seconds and peak RSS in MB. Fails if it fails (exit code 1 is
    fine with ``allow_failure``: an invalid input, found so).

    Memory is read from /proc every 10 ms: the process's own peak (VmHWM), or, if it started worker
    processes, the largest sum of the resident memory of all of them, whichever is larger. (wait4's
    ru_maxrss would be no good: Linux starts a child's count from its parent's peak.)
    """
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        own_kb = tree_kb = 0
        while process.poll() is None:
            own_kb = max(own_kb, _status_kb(process.pid, "VmHWM"))
            tree_kb = max(tree_kb, sum(_status_kb(pid, "VmRSS") for pid in _tree(process.pid)))
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        if process.returncode != 0 and not (allow_failure and process.returncode == 1):
            stderr.seek(0)
            raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr.read().decode()}")
    return seconds, max(own_kb, tree_kb) / 1024


def same_bytes(a: Path, b: Path) -> bool:
    return subprocess.run(["cmp", "-s", str(a), str(b)], check=False).returncode == 0


def same_feed(a: Path, b: Path) -> bool:
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, huge_tree=True)
    return etree.tostring(etree.parse(str(a), parser), method="c14n") == etree.tostring(
        etree.parse(str(b), parser), method="c14n"
    )


def bindings(work: Path) -> Path:
    """Generate xsdata bindings of our XSD into ``work/bindings`` (not part of xmlsync)."""
    target = work / "bindings"
    if not (target / "minicrm_bindings" / "minicrm_offers.py").is_file():
        target.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # xsdata runs ruff
        subprocess.run(
            [str(BIN / "xsdata"), "generate", str(HERE.parent / "schemas" / "minicrm-offers.xsd"),
             "--package", "minicrm_bindings"],
            cwd=target, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    return target


def run_size(size: int, work: Path, only_xmlsync: bool, check: bool, repeat: int = 3) -> list[Run]:
    jsonl, csv = work / f"offers-{size}.jsonl", work / f"offers-{size}.csv"
    if not jsonl.is_file() or not (only_xmlsync or csv.is_file()):
        print(f"generating {size:,} projects...", file=sys.stderr)
        generate(size, jsonl, None if only_xmlsync else csv)
    out = {name: work / f"{name}-{size}.xml" for name in ("jsonl", "jobs", "csv", "raw", "encode", "xsdata")}
    runs: list[Run] = []

    def add(task: str, command: list[str], *baselines: str) -> None:
        print(f"  {size:,}: {task}...", file=sys.stderr)
        times = [measure(command) for _ in range(1 if task in SLOW_PEERS else repeat)]
        runs.append(Run(task, size, min(t for t, _ in times), max(m for _, m in times), baselines))

    build, build_jobs = BUILD, f"{BUILD}, -j {JOBS}"
    add(build, [*XMLSYNC, "build", str(jsonl), "-o", str(out["jsonl"]), "--compact", "--quiet"])
    add(build_jobs, [*XMLSYNC, "build", str(jsonl), "-o", str(out["jobs"]), "--compact", "--quiet",
                     "--jobs", str(JOBS)], build)  # fmt: skip
    if not only_xmlsync:
        csv_build = [*XMLSYNC, "build", str(csv), "--profile", str(HERE / "bench.toml"), "--compact", "--quiet"]
        add("xmlsync build, CSV", [*csv_build, "-o", str(out["csv"])], build)
        add(f"xmlsync build, CSV, -j {JOBS}", [*csv_build, "-o", str(out["csv"]), "--jobs", str(JOBS)], build)
        peers = (build, build_jobs)
        add("raw strings (no checks)", [*CONTENDERS, "raw", str(jsonl), str(out["raw"])], *peers)
        add("xmlschema encode", [*CONTENDERS, "encode", str(jsonl), str(out["encode"])], *peers)
        xsdata_dir = bindings(work)
        add("xsdata XmlSerializer", [*CONTENDERS, "xsdata", str(jsonl), str(out["xsdata"]), str(xsdata_dir)], *peers)
    add("xmlsync validate", [*XMLSYNC, "validate", str(out["jsonl"])])
    if not only_xmlsync:  # lxml holds the whole file: about 20 GB for a million projects
        add("lxml assertValid", [*CONTENDERS, "assert-valid", str(out["jsonl"])], "xmlsync validate")
    if not same_bytes(out["jsonl"], out["jobs"]) or not (only_xmlsync or same_bytes(out["jsonl"], out["csv"])):
        raise SystemExit(f"xmlsync made different feeds from {jsonl.name} and {csv.name}, or with --jobs")
    if not only_xmlsync:
        if not same_bytes(out["raw"], out["jsonl"]):
            raise SystemExit("the raw-string baseline and xmlsync wrote different bytes")
        for peer in ("encode", "xsdata"):
            if check and size <= CHECK_UP_TO and not same_feed(out["jsonl"], out[peer]):
                raise SystemExit(f"{peer} wrote a different feed")
    return runs


def table(runs: list[Run]) -> str:
    """Return the results; a ratio is this row's time over the named row's (validate: over xmlsync validate)."""
    by_task = {(r.size, r.task): r for r in runs}
    lines = [
        f"{'projects':>9}  {'task':<32} {'time s':>8} {'us/project':>11} {'peak RSS MB':>12}"
        f" {'/ -j 1':>8} {f'/ -j {JOBS}':>8}",
    ]
    for r in runs:
        ratios = [f"{r.seconds / by_task[(r.size, base)].seconds:7.2f}x" for base in r.baselines]
        lines.append(
            f"{r.size:>9,}  {r.task:<32} {r.seconds:8.2f} {r.seconds / r.size * 1e6:11.1f} {r.rss_mb:12.1f}"
            + "".join(f" {ratio:>8}" for ratio in ratios)
        )
    return "\n".join(lines)


TARGETS = (  # (this task, over that task, at most): the speed targets of the one-model redesign
    (BUILD, "raw strings (no checks)", 3.0),
    ("xmlsync validate", "lxml assertValid", 1.2),
    ("xmlsync build, CSV", BUILD, 1.5),
)


def targets(runs: list[Run]) -> str:
    """Return each target as a ratio of two rows of the same size, and whether it is met."""
    by_task = {(r.size, r.task): r for r in runs}
    lines = ["targets: time of one task over another's, same size, same run"]
    for size in dict.fromkeys(r.size for r in runs):
        for task, base, limit in TARGETS:
            if (size, task) in by_task and (size, base) in by_task:
                ratio = by_task[(size, task)].seconds / by_task[(size, base)].seconds
                verdict = "met" if ratio <= limit else "NOT met"
                lines.append(f"{size:>9,}  {task} / {base:<26} {ratio:5.2f}x  (at most {limit}x: {verdict})")
    return "\n".join(lines)


def compiled() -> None:
    """Write the bytecode of xmlsync and of the contenders, as ``pip install`` does for a wheel.

    An editable install (or ``PYTHONDONTWRITEBYTECODE``) leaves xmlsync's modules to be compiled on every
    start, which a user's installed copy never does; the libraries measured are compiled already.
    """
    import compileall

    for folder in (HERE.parent / "xmlsync", HERE):
        compileall.compile_dir(str(folder), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="projects per run")
    parser.add_argument(
        "--only-xmlsync", action="store_true", help="only xmlsync build from JSON Lines and validate (e.g. for 1M)"
    )
    parser.add_argument("--work", type=Path, default=HERE.parent / "bench-data", help="data and output folder")
    parser.add_argument("--no-check", action="store_true", help="skip the C14N comparison of the peers' output")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each task but the slow peers; the best counts")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    compiled()
    runs: list[Run] = []
    for size in args.sizes:
        runs.extend(run_size(size, args.work, args.only_xmlsync, not args.no_check, args.repeat))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {' '.join(sys.argv)}")
    print(table(runs))
    print(targets(runs))
    if not args.keep:
        shutil.rmtree(args.work)


if __name__ == "__main__":
    main()
