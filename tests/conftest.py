"""Shared fixtures: the CLI runner, paths, and golden-file comparison (rewritten only with --update-golden)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
REFERENCE = ROOT.parent / "shared" / "reference"
SAMPLE_XML = REFERENCE / "minicrm-offer-xml-sync-sample.xml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files from the current output instead of comparing against them.",
    )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """Return ``check(actual: bytes, path: Path)``: byte-for-byte comparison with a golden file."""
    update = request.config.getoption("--update-golden")

    def check(actual: bytes, path: Path) -> None:
        __tracebackhide__ = True
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual)
            return
        assert path.is_file(), f"golden file {path} is missing; run pytest --update-golden once and review it"
        assert actual == path.read_bytes(), f"output differs from {path}; review, then pytest --update-golden"

    return check


def _pg_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on loopback: CI's (XMLSYNC_TEST_POSTGRES_URL), else a throwaway cluster."""
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    url = os.environ.get("XMLSYNC_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("the SQL tests need PostgreSQL: apt-get install postgresql, or set XMLSYNC_TEST_POSTGRES_URL")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tempfile.mkdtemp(prefix="xmlsync-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    run(pg_ctl, "-D", data, "-o", options, "-l", f"{data}/server.log", "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)
