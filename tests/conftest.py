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
