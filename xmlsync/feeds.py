"""Safe reading of untrusted XML: a DOCTYPE is refused before the parser sees it, in any encoding.

libxml2 is set up to expand no entity and to load no DTD (:func:`safe_parser`), but it still parses an
internal DTD subset. :class:`GuardedStream` sits between a file and the parser and follows the prolog (the
declaration, comments and processing instructions before the root element) as the bytes pass, in the
file's own encoding: UTF-8 or UTF-16 (by the byte order mark or the bytes of ``<?``), or what the XML
declaration names (``UTF-7`` spells ``<`` as ``+ADw-``). UTF-32 and EBCDIC, which libxml2 does not stream,
are refused as such. The moment a ``<!DOCTYPE`` shows, it
raises :class:`DoctypeFound`, before those bytes reach the parser. Each chunk is looked at once, with
``str.find`` for the end of a comment, so a prolog of 40 MB of whitespace or one 40 MB comment costs
linear time and no memory beyond a chunk.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from xmlsync.errors import Issue, UnreadableError, ValidationError
from xmlsync.tree.paths import ROOT_TAG

CHUNK = 64 * 1024
_HEAD = 1024  # bytes read before anything is passed on: the byte order mark and the XML declaration
_SPACE = re.compile(r"[ \t\r\n]*")
_DECLARED = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
# Byte order marks and the bytes of "<?" (or "<") without one: (prefix, codec), longest first.
_SIGNATURES = (
    (b"\x00\x00\xfe\xff", "utf-32"),  # byte order marks: the codec reads and drops them
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp500"),  # EBCDIC "<?xm"
)
_PLAIN = frozenset({"utf_8", "iso8859_1", "ascii", "iso8859_2", "cp1250", "cp1252", "iso8859_15"})


Source = str | Path | bytes | IO[bytes]
DTD_MESSAGE = (
    "the file declares a DOCTYPE, which XML Sync feeds never need and xmlsync does not process (no entity is"
    " expanded, no DTD loaded); remove the <!DOCTYPE ...> declaration"
)


def safe_parser() -> etree.XMLParser:
    """Return a parser that expands no entities, loads no DTD and touches no network."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


class DoctypeFound(Exception):
    """The prolog declares a DOCTYPE; ``line`` is where it starts."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class UnknownEncoding(Exception):
    """The file is in an encoding that cannot be checked or read (UTF-32, EBCDIC, or one Python does not know)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Prolog:
    """Follows the prolog in one decoding of the file until the root element starts or a DOCTYPE does."""

    def __init__(self, codec: str) -> None:
        self._decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self._text = ""
        self._closing = ""  # the end of the comment or instruction being skipped, or "" between them
        self.line = 1
        self.content = False  # anything but whitespace seen
        self.decided = False

    def feed(self, data: bytes, final: bool) -> None:
        """Look at the next bytes. Raises :class:`DoctypeFound`."""
        text = self._text + self._decoder.decode(data, final)
        while not self.decided:
            if self._closing:
                end = text.find(self._closing)
                if end < 0:
                    keep = max(0, len(text) - len(self._closing) + 1)
                    self.line += text.count("\n", 0, keep)
                    text = text[keep:]
                    break
                self.line += text.count("\n", 0, end)
                text = text[end + len(self._closing) :]
                self._closing = ""
                continue
            start = _SPACE.match(text).end()  # type: ignore[union-attr]  # it matches the empty string
            self.line += text.count("\n", 0, start)
            text = text[start:]
            if not text:
                break
            self.content = True
            if len(text) < 9 and not final and text.startswith("<"):
                break  # too little to tell "<!DOCTYPE" from a comment or the root: wait for more
            if text.startswith("<!DOCTYPE"):
                raise DoctypeFound(self.line)
            if text.startswith("<!--"):
                self._closing, text = "-->", text[4:]
            elif text.startswith("<?"):
                self._closing, text = "?>", text[2:]
            else:
                self.decided = True  # the root element (or text the parser will refuse)
        self._text = text
        if final:
            self.decided = True


class GuardedStream:
    """A binary stream that passes ``raw`` on, after checking its prolog (see the module docstring).

    :meth:`prime` reads the start of the file ahead (up to a chunk, or until the prolog is over); :meth:`read`
    goes on checking while the prolog lasts, then hands the bytes through untouched.

    Raises:
        DoctypeFound: From :meth:`prime` or :meth:`read`, before the bytes of the DOCTYPE are returned.
        UnknownEncoding: From :meth:`prime`, for UTF-32, EBCDIC or a declared encoding Python does not know.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._ahead = b""
        self._prologs: list[_Prolog] = []
        self._decided = False
        self.ended = False
        # Whether the bytes so far may hold a template's placeholder or markup escaped twice (rules.text_hint):
        # the rules look for them only then. Bytes not in an ASCII-based encoding (UTF-16) always may.
        self.hinted = False
        self._tail = b""

    @property
    def empty(self) -> bool:
        """Return whether the file holds nothing but whitespace (known once :meth:`prime` has run)."""
        return self.ended and not any(prolog.content for prolog in self._prologs)

    def prime(self) -> None:
        """Read ahead until the prolog is over, the file ends, or a chunk is held."""
        head = self._read(_HEAD)
        while len(head) < _HEAD and not self.ended:
            head += self._read(_HEAD - len(head))
        self._prologs = [_Prolog(codec) for codec in _codecs(head)]
        self._check(head)
        ahead = [head]
        while not self._decided and not self.ended and sum(map(len, ahead)) < CHUNK:
            data = self._read(CHUNK)
            self._check(data)
            ahead.append(data)
        self._ahead = b"".join(ahead)

    def read(self, size: int = -1) -> bytes:
        """Return the next bytes for the parser."""
        if self._ahead:
            data, self._ahead = self._ahead, b""
            return data
        if self._decided:
            data = self._raw.read(size)
            self._scan(data)
            return data
        data = self._read(max(size, CHUNK) if size >= 0 else -1)
        self._check(data)
        return data

    def _read(self, size: int) -> bytes:
        data = self._raw.read(size)
        if not data:
            self.ended = True
        self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        if self.hinted or not data:
            return
        if not self._tail and (data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]):
            self.hinted = True  # UTF-16: the byte patterns do not apply
            return
        window = self._tail + data
        self.hinted = _LEAK_BYTES.search(window) is not None or _escaped_twice(window)
        self._tail = data[-_HINT_TAIL:]

    def _check(self, data: bytes) -> None:
        for prolog in self._prologs:
            if not prolog.decided:
                prolog.feed(data, self.ended)
        self._decided = all(prolog.decided for prolog in self._prologs)


# What rules.text_hint looks for, as bytes: a placeholder as a whole text, an ampersand escaped again.
_LEAK_BYTES = re.compile(rb">(?:null|undefined|NaN|None|\[object Object\])<")  # one pass: faster than five finds
_ESCAPED_AFTER = (b"lt;", b"gt;", b"amp;", b"quot;", b"apos;", b"#")  # what follows "&amp;" in a text escaped twice
_HINT_TAIL = len(b">[object Object]<") - 1


def _escaped_twice(window: bytes) -> bool:
    """Return whether bytes hold an entity escaped once more (``&amp;lt;``): "&amp;" alone is a plain "&"."""
    at = window.find(b"&amp;")
    while at >= 0:
        if window.startswith(_ESCAPED_AFTER, at + 5):
            return True
        at = window.find(b"&amp;", at + 5)
    return False


def _codecs(head: bytes) -> list[str]:
    """Return the decodings to follow: the file's own (see the module docstring) and, if ASCII-based, bytes as Latin-1.

    Raises:
        UnknownEncoding: For UTF-32 and EBCDIC (libxml2 does not stream them) or a declared encoding Python does
            not know.
    """
    for signature, codec in _SIGNATURES:
        if head.startswith(signature):
            if codec.startswith("utf-32") or codec == "cp500":  # the streaming parser reads neither: say so
                raise UnknownEncoding("UTF-32" if codec != "cp500" else "EBCDIC")
            return [codec]
    found = _DECLARED.match(head)
    if found is None:
        return ["latin-1"]
    name = found.group(1).decode("ascii")
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise UnknownEncoding(name) from None
    return ["latin-1"] if codec.replace("-", "_") in _PLAIN else ["latin-1", codec]


# -- opening sources, and the issues of a file that cannot be parsed -----------------------------------


@contextlib.contextmanager
def opened(source: Source) -> Iterator[IO[bytes]]:
    """Yield ``source`` as a binary stream; a path is opened here and closed at the end."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


def prolog_issue(exc: DoctypeFound | UnknownEncoding, label: str) -> Issue:
    """Return the issue of a file whose prolog was refused."""
    if isinstance(exc, DoctypeFound):
        return Issue("dtd-forbidden", DTD_MESSAGE, source=label, line=exc.line)
    message = f"the file is in the encoding {exc.name!r}, which xmlsync does not read; save it as UTF-8"
    return Issue("encoding", message, source=label, line=1)


def empty_issue(label: str) -> Issue:
    """Return the issue of a file that holds nothing but whitespace."""
    return Issue("xml-syntax", "not well-formed XML: the file is empty", source=label, line=1)


# The common mistakes of hand-made feeds, in plain words: libxml2's message -> what it means and how to fix it.
_IN_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"xmlParseEntityRef: no name", "a bare & in text; write it as &amp;"),
        (r"EntityRef: expecting ';'", "an & that starts no entity; write a bare & as &amp;"),
        (
            r"Entity '([^']*)' not defined",
            "&{0}; is not an XML entity (HTML's are not); write the character itself, or &amp;{0}; for the text",
        ),
        (r"StartTag: invalid element name", "a < in text that starts no element; write it as &lt;"),
        (
            r"XML declaration allowed only at the start",
            "text before the XML declaration (<?xml ...?>), which must come first in the file; remove what stands"
            " before it, often an empty line",
        ),
        (
            r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)",
            "the end tag </{2}> does not close <{0}> (line {1}); write </{0}>, or check the spelling of both",
        ),
        (r"Start tag expected, '<' not found", "the file does not start with an XML element"),
    )
)


def syntax_issue(exc: etree.XMLSyntaxError, label: str) -> Issue:
    """Return the issue of text that is not well-formed XML, in one line, with line, column and plain words.

    The first error libxml2 logged is the one to tell (the exception of an incremental parse may only say
    that no element was found).
    """
    line, column = exc.position if exc.position else (None, None)
    text = str(exc.msg or exc).strip()
    first = next((entry for entry in cast(Any, exc.error_log) if entry.level_name in ("ERROR", "FATAL")), None)
    if first is not None and (not line or text.startswith("no element found")):
        text, line, column = first.message, first.line, first.column
    text = " ".join(re.sub(r", line \d+, column \d+$", "", text).split())
    for pattern, words in _IN_WORDS:
        match = pattern.search(text)
        if match is not None:
            text = words.format(*match.groups())
            break
    return Issue("xml-syntax", f"not well-formed XML: {text}", source=label, line=line or None, column=column or None)


def unreadable_issue(exc: OSError, label: str) -> Issue:
    """Return the issue of a file that cannot be read."""
    reason = exc.strerror or str(exc)
    return Issue("unreadable-input", f"cannot read the file: {reason}", source=label)


def source_name(source: Source) -> str:
    """Return the display name of a source: its path, or the stream's name."""
    if isinstance(source, str | Path):
        return str(source)
    return str(getattr(source, "name", "<stdin>"))


@contextlib.contextmanager
def guarded(source: Source, name: str) -> Iterator[GuardedStream]:
    """Yield ``source`` opened behind a :class:`GuardedStream` whose start was read; what goes wrong in the
    block while reading or parsing it becomes one issue.

    Raises:
        ValidationError: An empty file, a refused prolog (DOCTYPE, encoding), or XML that is not well-formed.
        UnreadableError: If the file cannot be read.
    """
    try:
        with opened(source) as stream:
            guard = GuardedStream(stream)
            guard.prime()
            if guard.empty:
                raise ValidationError([empty_issue(name)])
            yield guard
    except (DoctypeFound, UnknownEncoding) as exc:
        raise ValidationError([prolog_issue(exc, name)]) from None
    except etree.XMLSyntaxError as exc:
        raise ValidationError([syntax_issue(exc, name)]) from None
    except OSError as exc:
        raise UnreadableError([unreadable_issue(exc, name)]) from None


def iter_projects(source: Source, name: str) -> Iterator[etree._Element]:
    """Yield each ``<Project>`` child of a feed's ``<Projects>``, streamed: each is freed once the next is asked for.

    Whitespace between elements, comments and processing instructions are left out of the tree.

    Raises:
        ValidationError: One issue, if the file is not a feed that can be read (syntax, DOCTYPE, encoding, root).
        UnreadableError: If the file cannot be read.
    """
    with guarded(source, name) as guard:
        yield from _top_projects(guard, name)


def iter_compact_projects(source: Source, name: str) -> Iterator[tuple[str | None, int | None, bytes]]:
    """Yield ``(Id, line, XML)`` of each ``<Project>`` of a feed (see :func:`iter_projects`), the XML compact:
    without whitespace between elements, comments or processing instructions, as ``build --compact`` writes it.
    """
    for project in iter_projects(source, name):
        project.tail = None
        line = project.sourceline if isinstance(project.sourceline, int) else None
        yield project.get("Id"), line, etree.tostring(project, encoding="UTF-8")


def _top_projects(guard: GuardedStream, name: str) -> Iterator[etree._Element]:
    events = etree.iterparse(
        cast(Any, guard),
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
    )
    root: etree._Element | None = None
    for _, element in events:
        if root is None:
            root = element.getroottree().getroot()
            if root.tag != ROOT_TAG:
                message = f"the root element is <{root.tag}>; an XML Sync feed starts with <{ROOT_TAG}>"
                line = root.sourceline if isinstance(root.sourceline, int) else None
                raise ValidationError([Issue("wrong-root", message, source=name, line=line)])
        if element.getparent() is not root:
            continue
        if element.tag == "Project":
            yield element
        root.remove(element)  # done with it: memory stays flat


def open_feed(path: str | Path) -> IO[bytes]:
    """Open a feed file to read: a ``.gz`` file as it unpacks (the parser's size bounds apply to what comes out).

    Reading a damaged ``.gz`` raises ``OSError`` (``BadGzipFile``) or ``EOFError`` (cut short).
    """
    if str(path).lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")
