"""The HTML reports (`validate --format html`, `diff --format html`): golden pages, and a real headless browser.

The browser is Chromium from the distribution's packages (`.ci/run` installs it): it renders each page, the
text a person reads is checked in the DOM it builds, and a screenshot shows that something was drawn.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from click.testing import CliRunner
from lxml import html

from tests.conftest import FIXTURES, GOLDEN, KEY, ROOT
from xmlsync.cli import cli

VALIDATE = ROOT / "tests" / "fixtures" / "validate"


def pages(runner: CliRunner, folder: Path) -> tuple[bytes, bytes]:
    """Return the validation page of a feed with errors and the comparison page of two feeds, built in ``folder``."""
    shutil.copy(VALIDATE / "rules-2_errors-5_warnings.xml", folder / "rules.xml")
    checked = runner.invoke(cli, ["validate", "--format", "html", "rules.xml"])
    assert checked.exit_code == 1
    assert runner.invoke(cli, ["build", str(FIXTURES / "offers.json"), "-o", "old.xml"]).exit_code == 0
    old = (folder / "old.xml").read_text(encoding="utf-8")
    new = old.replace("<Name>Árvíztűrő Tükörfúrógép Kft.</Name>", "<Name>Árvíztűrő & Fia Kft.</Name>", 1)
    new = new.replace("<Quantity>3</Quantity>", "<Quantity>4</Quantity>", 1).replace(
        '<Project Id="10002">', '<Project Id="10009">'
    )
    (folder / "new.xml").write_text(new.replace("& Fia", "&amp; Fia"), encoding="utf-8")
    compared = runner.invoke(cli, ["diff", "--format", "html", "old.xml", "new.xml"])
    assert compared.exit_code == 1
    return checked.stdout_bytes, compared.stdout_bytes


def test_the_pages_are_golden_and_load_nothing(runner: CliRunner, golden, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINICRM_API_KEY", KEY)
    for page, name in zip(pages(runner, tmp_path), ("validate.html", "diff.html"), strict=True):
        golden(page, GOLDEN / "page" / name)
        tree = html.fromstring(page)
        assert tree.xpath("//script") == [] and tree.xpath("//@src") == []
        assert all(link.startswith("#") for link in tree.xpath("//@href"))
        [policy] = tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
        assert policy == "default-src 'none'; style-src 'unsafe-inline'"
        assert KEY.encode() not in page


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "the page tests need a headless browser: apt-get install chromium (as .ci/run does)"
    return found


def _browse(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--user-data-dir=" + str(page.parent / "profile"), *args, page.as_uri()]  # fmt: skip
    env = {**os.environ, "HOME": str(page.parent)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=True)


def _drawn(png: Path) -> int:
    """Return how many distinct rows (as PNG filters leave them) a screenshot has: one or two for a blank page."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    chunks, at = b"", 8
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"IDAT":
            chunks += data[at + 8 : at + 8 + size]
        at += 12 + size
    raw = zlib.decompress(chunks)
    stride = width * {2: 3, 6: 4}[colour] * depth // 8 + 1
    rows = {raw[row * stride + 1 : (row + 1) * stride] for row in range(height)}
    return len(rows)


def test_a_browser_renders_the_cards_the_issues_and_their_lines(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    checked, compared = pages(runner, tmp_path)
    (tmp_path / "validate.html").write_bytes(checked)
    (tmp_path / "diff.html").write_bytes(compared)
    dom = html.fromstring(_browse(tmp_path / "validate.html", "--dump-dom").stdout)
    rows = [" | ".join(cell.text_content().strip() for cell in row) for row in dom.xpath("//tbody/tr")]
    assert rows[1] == (
        "error | unknown-currency | 30 | /Projects/Project[1]/Offers/Offer[1]/CurrencyCode | Project 5 > Offer 15 |"
        " CurrencyCode 'HUN' is not an ISO 4217 currency; use a code such as HUF, EUR or RON"
    )
    [link] = dom.xpath("//tbody/tr[2]//a/@href")
    assert dom.get_element_by_id(link[1:]).text_content().strip() == "30  <CurrencyCode>HUN</CurrencyCode>"
    dom = html.fromstring(_browse(tmp_path / "diff.html", "--dump-dom").stdout)
    rows = [" | ".join(cell.text_content().strip() for cell in row) for row in dom.xpath("//tbody/tr")]
    assert rows == [
        "Árvíztűrő & Fia Kft. (Project 10001)",
        "Name | Árvíztűrő Tükörfúrógép Kft. | Árvíztűrő & Fia Kft.",
        "Offers/Offer[Id=2024017]/Products/Product[Id=3001]/Quantity | 3 | 4",
        "Ștefan Țăranu (Project 10009) | added",
        "Ștefan Țăranu (Project 10002) | gone",
    ]
    for name in ("validate", "diff"):
        _browse(tmp_path / f"{name}.html", f"--screenshot={tmp_path / name}.png", "--window-size=1000,700")
        assert _drawn(tmp_path / f"{name}.png") > 40  # text, tables and colours, not an empty page
    (tmp_path / "blank.html").write_text("<!DOCTYPE html><title>x</title>")
    _browse(tmp_path / "blank.html", f"--screenshot={tmp_path / 'blank.png'}", "--window-size=1000,700")
    assert _drawn(tmp_path / "blank.png") <= 2  # white (the edge of the viewport may differ)
