"""xmlsync: ERP offer records -> MiniCRM XML Sync feeds, validated against the bundled XSD.

The steps, one module each: :mod:`~xmlsync.readers` (read), :mod:`~xmlsync.mapping` (map and
normalise), :mod:`~xmlsync.builder` (build), :mod:`~xmlsync.validate` (check against the XSD and the
rules) and :mod:`~xmlsync.writer` (write atomically). :func:`build_file` runs them all. The tree they share
is described once, in :mod:`~xmlsync.fields`; each kind of value in :mod:`~xmlsync.kinds`.
"""

from __future__ import annotations

from xmlsync.builder import build_project, build_tree
from xmlsync.config import BuildConfig
from xmlsync.diff import FeedDiff, diff_feeds
from xmlsync.errors import (
    InputError,
    Issue,
    OptionsError,
    OutputError,
    UnreadableError,
    ValidationError,
    XmlSyncError,
)
from xmlsync.export import export_feed, iter_records
from xmlsync.mapping import project_from_dict
from xmlsync.pipeline import BuildResult, Progress, Split, build_file, write_feed
from xmlsync.records import (
    Address,
    Business,
    Contact,
    Customer,
    Email,
    Offer,
    Phone,
    Product,
    Project,
)
from xmlsync.rules import RuleConfig
from xmlsync.schema import schema_path, schema_text
from xmlsync.validate import (
    FileReport,
    check_file,
    check_files,
    is_valid,
    iter_errors,
    parse,
    validate,
    validate_file,
)


def __getattr__(name: str) -> str:
    """Return ``__version__`` on first use (importlib.metadata is slow to import)."""
    if name != "__version__":
        raise AttributeError(f"module 'xmlsync' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xmlsync")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0"


__all__ = [
    "Address",
    "BuildConfig",
    "BuildResult",
    "Business",
    "Contact",
    "Customer",
    "Email",
    "FeedDiff",
    "FileReport",
    "InputError",
    "Issue",
    "Offer",
    "OptionsError",
    "OutputError",
    "Phone",
    "Product",
    "Progress",
    "Project",
    "RuleConfig",
    "Split",
    "UnreadableError",
    "ValidationError",
    "XmlSyncError",
    "__version__",
    "build_file",
    "build_project",
    "build_tree",
    "check_file",
    "check_files",
    "diff_feeds",
    "export_feed",
    "is_valid",
    "iter_errors",
    "iter_records",
    "parse",
    "project_from_dict",
    "schema_path",
    "schema_text",
    "validate",
    "validate_file",
    "write_feed",
]
