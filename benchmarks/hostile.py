"""Benchmark: hostile inputs stay linear in size, in time and memory.

    python benchmarks/hostile.py

Each row is one ``xmlsync`` process (see :func:`run.measure`) on a file made here: the MiniCRM sample with
thousands of unknown attributes on one element, a prolog of megabytes of whitespace or of one comment, one
offer with thousands of faulty product lines, and an XLSX of 300 KB whose sheet unpacks to 300 MB (build).
``x smaller`` is this row's time over the row of the same kind a quarter the size: linear is about 4x.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import XMLSYNC, measure  # noqa: E402

ROOT = HERE.parent
SAMPLE = (ROOT / "fixtures" / "minicrm-sample.xml").read_text(encoding="utf-8")


def attributes(count: int) -> bytes:
    names = " ".join(f'a{i}="x"' for i in range(count))
    return SAMPLE.replace('<Project Id="99999">', f'<Project Id="99999" {names}>', 1).encode()


def prolog(megabytes: int, comment: bool) -> bytes:
    head, body = SAMPLE.split("?>", 1)
    filler = "x" * (megabytes * 2**20 - 7) if comment else " " * (megabytes * 2**20)
    return (head + "?>" + (f"<!--{filler}-->" if comment else filler) + body).encode()


def bad_lines(count: int) -> bytes:
    product = SAMPLE.split("<Products>")[1].split("</Products>")[0]
    lines = "".join(product.replace('Id="11144"', f'Id="{n}"').replace(">1250<", ">12,50<") for n in range(count))
    return SAMPLE.replace(product, lines).encode()


def xlsx_bomb(target: Path, megabytes: int) -> None:
    with (
        zipfile.ZipFile(ROOT / "fixtures" / "erp" / "offers.xlsx") as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<t>Partner neve</t>", b"<t>" + b"a" * (megabytes * 10**6) + b"</t>", 1)
            out.writestr(info, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "hostile", help="folder for the files")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, str, int, list[str]]] = []  # kind, label, size, command
    for kind, unit, sizes, make in (
        ("unknown attributes", "", (2_000, 8_000), attributes),
        ("prolog of whitespace", " MB", (10, 40), lambda mb: prolog(mb, comment=False)),
        ("prolog of one comment", " MB", (10, 40), lambda mb: prolog(mb, comment=True)),
        ("faulty product lines", "", (2_000, 8_000), bad_lines),
    ):
        for size in sizes:
            path = work / f"{kind.replace(' ', '-')}-{size}.xml"
            path.write_bytes(make(size))
            cases.append((kind, f"{size:,}{unit}", size, [*XMLSYNC, "validate", str(path)]))
    bomb = work / "bomb-300MB.xlsx"
    xlsx_bomb(bomb, 300)
    profile = str(ROOT / "fixtures" / "erp" / "erp.toml")
    build = [*XMLSYNC, "build", str(bomb), "--profile", profile, "-o", str(work / "bomb.xml")]
    cases.append(("XLSX, one cell of 300 MB unpacked", f"{bomb.stat().st_size:,} B file", 0, build))
    rows = [f"{'input':<36} {'size':>16} {'time s':>8} {'peak RSS MB':>12} {'x smaller':>10}"]
    previous: dict[str, tuple[int, float]] = {}
    for kind, label, size, command in cases:
        print(f"  {kind}, {label}...", file=sys.stderr)
        seconds, rss = measure(command, allow_failure=True)
        ratio = ""
        if kind in previous:
            ratio = f"{seconds / previous[kind][1]:9.2f}x"
        previous[kind] = (size, seconds)
        rows.append(f"{kind:<36} {label:>16} {seconds:8.2f} {rss:12.1f} {ratio:>10}")
    print(f"python {sys.version.split()[0]}; {' '.join(sys.argv)}")
    print("\n".join(rows))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
