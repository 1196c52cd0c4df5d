"""Untrusted XML: no entity expansion, no DTD loading, no network or file access, refused quickly."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
        "lol.xml:1: the file declares a DOCTYPE, which XML Sync feeds never need and xmlsync does not process (no"
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
