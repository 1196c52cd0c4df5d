"""Untrusted XML: no entity expansion, no DTD loading, no network or file access, refused quickly."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_XML
from xmlsync import ValidationError, parse
from xmlsync.validate import check_file

SECRET = "top-secret-7f3a9c"
BODY = '<Projects><Project Id="1"><Name>&xxe;</Name></Project></Projects>\n'
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE Projects [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n' for i in range(1, 10)
    )
    + ']>\n<Projects><Project Id="1"><Name>&lol9;</Name></Project></Projects>\n'
)
LONG_PROLOG = "<!--" + "x" * 70_000 + "-->\n"  # pushes the DOCTYPE past the first block that is scanned


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return 0
    connection.close()
    return 1


@pytest.mark.parametrize("prolog", ["", LONG_PROLOG], ids=["short-prolog", "long-prolog"])
def test_xxe_does_not_read_the_file_it_names(secret_file: Path, prolog: str) -> None:
    data = f'<?xml version="1.0"?>\n{prolog}<!DOCTYPE Projects [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n{BODY}'
    report = check_file(data.encode(), name="xxe.xml")
    assert "dtd-forbidden" in [issue.code for issue in report.issues]
    assert not report.valid
    assert all(SECRET not in str(issue) for issue in report.issues)


def test_xxe_is_refused_before_parsing_by_the_in_memory_parser(secret_file: Path) -> None:
    data = f'<?xml version="1.0"?>\n<!DOCTYPE Projects [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n{BODY}'
    with pytest.raises(ValidationError) as info:
        parse(data.encode(), name="xxe.xml")
    assert [issue.code for issue in info.value.issues] == ["dtd-forbidden"]


def test_billion_laughs_ends_quickly_with_an_error() -> None:
    start = time.perf_counter()
    report = check_file(BILLION_LAUGHS.encode(), name="lol.xml")
    elapsed = time.perf_counter() - start
    assert [str(issue) for issue in report.issues] == [
        "lol.xml:2: the file declares a DOCTYPE, which XML Sync feeds never need and xmlsync does not process (no"
        " entity is expanded, no DTD loaded); remove the <!DOCTYPE ...> declaration [dtd-forbidden]"
    ]
    assert elapsed < 0.5


def test_billion_laughs_behind_a_long_prolog_is_not_expanded() -> None:
    data = BILLION_LAUGHS.replace("<!DOCTYPE", LONG_PROLOG + "<!DOCTYPE", 1)
    start = time.perf_counter()
    report = check_file(data.encode(), name="lol.xml")
    assert time.perf_counter() - start < 1.0
    assert "dtd-forbidden" in [issue.code for issue in report.issues]
    assert all("lollol" not in issue.message for issue in report.issues)


@pytest.mark.parametrize("prolog", ["", LONG_PROLOG], ids=["short-prolog", "long-prolog"])
def test_an_external_dtd_makes_no_network_access(listener: socket.socket, prolog: str) -> None:
    port = listener.getsockname()[1]
    data = (
        f'<?xml version="1.0"?>\n{prolog}<!DOCTYPE Projects SYSTEM "http://127.0.0.1:{port}/feed.dtd">\n<Projects/>\n'
    )
    report = check_file(data.encode(), name="net.xml")
    assert "dtd-forbidden" in [issue.code for issue in report.issues]
    assert connections(listener) == 0
    with pytest.raises(ValidationError):
        parse(data.encode(), name="net.xml")
    assert connections(listener) == 0


@pytest.mark.parametrize("prolog", ["", LONG_PROLOG], ids=["short-prolog", "long-prolog"])
def test_an_external_dtd_makes_no_file_access(tmp_path: Path, prolog: str) -> None:
    # Opening a FIFO for reading blocks until a writer comes: if the DTD were opened, checking would hang
    # until the watchdog below opens the other end three seconds later.
    fifo = tmp_path / "feed.dtd"
    os.mkfifo(fifo)
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(3):
            with open(fifo, "w") as writer:
                writer.write("")

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    data = f'<?xml version="1.0"?>\n{prolog}<!DOCTYPE Projects SYSTEM "{fifo}">\n<Projects/>\n'
    start = time.perf_counter()
    report = check_file(data.encode(), name="file.xml")
    elapsed = time.perf_counter() - start
    done.set()
    thread.join()
    assert "dtd-forbidden" in [issue.code for issue in report.issues]
    assert elapsed < 2.0


DOCTYPE_BODY = (
    '<!DOCTYPE Projects [<!ENTITY a "b">]>\n<Projects><Project Id="1"><Name>&a;</Name></Project></Projects>\n'
)
DTD_LINE = (
    "{name}:{line}: the file declares a DOCTYPE, which XML Sync feeds never need and xmlsync does not process (no"
    " entity is expanded, no DTD loaded); remove the <!DOCTYPE ...> declaration [dtd-forbidden]"
)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (('<?xml version="1.0" encoding="UTF-16"?>\n' + DOCTYPE_BODY).encode("utf-16"), 2),
        (('<?xml version="1.0" encoding="UTF-16"?>\n' + DOCTYPE_BODY).encode("utf-16-le"), 2),
        (('<?xml version="1.0" encoding="UTF-16"?>\n' + DOCTYPE_BODY).encode("utf-16-be"), 2),
        (('<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE_BODY).encode("utf-8-sig"), 2),
        (('<?xml version="1.0" encoding="UTF-7"?>\n' + DOCTYPE_BODY).encode("utf-7"), 2),
        (('<?xml version="1.0" encoding="UTF-16"?>\n<!--' + "x\n" * 100_000 + "-->" + DOCTYPE_BODY).encode("utf-16"),
         100_002),
    ],
    ids=["utf-16-bom", "utf-16-le", "utf-16-be", "utf-8-bom", "utf-7", "utf-16-long-comment"],
)  # fmt: skip
def test_a_doctype_in_any_encoding_is_refused_first(data: bytes, line: int) -> None:
    report = check_file(data, name="enc.xml", max_errors=1)
    assert [str(issue) for issue in report.issues] == [DTD_LINE.format(name="enc.xml", line=line)]
    with pytest.raises(ValidationError) as info:
        parse(data, name="enc.xml")
    assert [str(issue) for issue in info.value.issues] == [DTD_LINE.format(name="enc.xml", line=line)]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b'<?xml version="1.0" encoding="X-MAC-KLINGON"?>\n<Projects/>\n', "X-MAC-KLINGON"),
        (('<?xml version="1.0" encoding="UTF-32"?>\n' + DOCTYPE_BODY).encode("utf-32"), "UTF-32"),
        ('<?xml version="1.0"?>\n<Projects/>\n'.encode("utf-32-le"), "UTF-32"),
        (('<?xml version="1.0" encoding="cp500"?>\n' + DOCTYPE_BODY).encode("cp500"), "EBCDIC"),
    ],
    ids=["unknown", "utf-32-doctype", "utf-32-le", "ebcdic-doctype"],
)
def test_an_encoding_that_cannot_be_read_is_refused(data: bytes, name: str) -> None:
    report = check_file(data, name="enc.xml")
    assert [str(issue) for issue in report.issues] == [
        f"enc.xml:1: the file is in the encoding {name!r}, which xmlsync does not read; save it as UTF-8 [encoding]"
    ]


def test_a_utf16_feed_without_doctype_is_read() -> None:
    text = SAMPLE_XML.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert check_file(text.encode("utf-16"), name="u16.xml").issues == []


def test_thousands_of_unknown_attributes_are_each_reported_once() -> None:
    attributes = " ".join(f'a{i}="x"' for i in range(2000))
    data = SAMPLE_XML.read_bytes().replace(b'<Project Id="99999">', f'<Project Id="99999" {attributes}>'.encode())
    report = check_file(data, name="attrs.xml")
    assert len(report.issues) == 2000
    assert [str(issue) for issue in report.issues[:2]] == [
        f"attrs.xml:4: /Projects/Project[1]/@a{i} (Project 99999): <Project> has an unknown attribute a{i}; remove it"
        " [unexpected-attribute]"
        for i in range(2)
    ]
    limited = check_file(data, name="attrs.xml", max_errors=1)
    assert (len(limited.issues), limited.complete) == (1, False)


def test_an_offer_of_hundreds_of_lines_gets_the_same_report(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = sys.modules["xmlsync.schema"]
    sample = SAMPLE_XML.read_bytes()
    product = sample.split(b"<Products>")[1].split(b"</Products>")[0]
    lines = [product.replace(b'Id="11144"', f'Id="{n}"'.encode()) for n in range(1, 601)]
    lines[549] = lines[549].replace(b"<PriceNet>1250</PriceNet>", b"<PriceNet>12,50</PriceNet>")
    data = sample.replace(product, b"".join(lines))
    assert schema.CROWDED < 600  # so this offer is checked by xmlschema alone
    crowded = [str(issue) for issue in check_file(data, name="big.xml").issues]
    assert [line.split(": ", 2)[1] for line in crowded] == [
        "/Projects/Project[1]/Offers/Offer[1]/Products/Product[550]/PriceNet (Project 99999 > Offer 99999 > Product"
        " 550)"
    ]
    monkeypatch.setattr(schema, "_CROWDED", lambda node: False)
    assert [str(issue) for issue in check_file(data, name="big.xml").issues] == crowded
    assert check_file(data.replace(b"12,50", b"12.50"), name="big.xml").issues == []
