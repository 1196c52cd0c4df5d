"""xmlsync: ERP offer records -> MiniCRM XML Sync feeds, validated against the bundled XSD.

The steps, one module each: :mod:`~xmlsync.readers` (read), :mod:`~xmlsync.walk` (map and
normalise), :mod:`~xmlsync.builder` (build), :mod:`~xmlsync.validate` (check against the XSD and the
rules) and :mod:`~xmlsync.writer` (write atomically). :func:`build_file` runs them all. The tree they share
is described once, in :mod:`~xmlsync.tree.fields`; each kind of value in :mod:`~xmlsync.tree.kinds`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from xmlsync.config import BuildConfig
from xmlsync.errors import (
    InputError,
    Issue,
    OptionsError,
    OutputError,
    UnreadableError,
    ValidationError,
    XmlSyncError,
)
from xmlsync.rules import RuleConfig
from xmlsync.schema import schema_path, schema_text
from xmlsync.tree.records import (
    Address,
    Business,
    Contact,
    Customer,
    Email,
    Offer,
    Order,
    OrderCustomer,
    Phone,
    Product,
    Project,
)
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

if TYPE_CHECKING:
    from xmlsync.builder import build_project, build_tree
    from xmlsync.diff import FeedDiff, diff_feeds
    from xmlsync.export import export_feed, iter_records
    from xmlsync.offerapi import (
        OfferConfig,
        OfferOutcome,
        OfferResult,
        read_offer_requests,
        send_offer_file,
        send_offers,
    )
    from xmlsync.pipeline import BuildResult, Change, Progress, Split, build_file, build_records, write_feed
    from xmlsync.profiles import Profile, load_profile
    from xmlsync.push import Credentials, PushConfig, PushError
    from xmlsync.push import push as push_feeds  # noqa: F401 - in __all__, by name
    from xmlsync.readers.inputs import InputSpec
    from xmlsync.state import State, StateError, Target
    from xmlsync.sync import SyncConfig, SyncResult
    from xmlsync.sync import sync as run_sync  # noqa: F401 - in __all__, by name
    from xmlsync.walk import project_from_dict

# Loaded on first use, so that checking a feed does not load the build (``xmlsync.validate`` is loaded above:
# the name is also the function's, which must win over the module's).
_LAZY = {
    "build_project": "builder",
    "build_tree": "builder",
    "FeedDiff": "diff",
    "diff_feeds": "diff",
    "export_feed": "export",
    "iter_records": "export",
    "project_from_dict": "walk",
    "BuildResult": "pipeline",
    "Progress": "pipeline",
    "Split": "pipeline",
    "build_file": "pipeline",
    "build_records": "pipeline",
    "write_feed": "pipeline",
    "Change": "pipeline",
    "InputSpec": "readers.inputs",
    "OfferConfig": "offerapi",
    "OfferOutcome": "offerapi",
    "OfferResult": "offerapi",
    "read_offer_requests": "offerapi",
    "send_offer_file": "offerapi",
    "send_offers": "offerapi",
    "Profile": "profiles",
    "load_profile": "profiles",
    "Credentials": "push",
    "PushConfig": "push",
    "PushError": "push",
    "State": "state",
    "StateError": "state",
    "Target": "state",
    "SyncConfig": "sync",
    "SyncResult": "sync",
}
# Functions named like their modules are exported under other names: importing ``xmlsync.push`` makes
# ``xmlsync.push`` the module, whatever was there before.
_RENAMED = {"push_feeds": ("push", "push"), "run_sync": ("sync", "sync")}


def __getattr__(name: str) -> Any:
    """Return a name of a module not loaded yet, or ``__version__`` (importlib.metadata is slow to import)."""
    if name in _LAZY or name in _RENAMED:
        module, attribute = _RENAMED.get(name, (_LAZY.get(name, ""), name))
        value = getattr(importlib.import_module(f"xmlsync.{module}"), attribute)
        globals()[name] = value
        return value
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
    "Change",
    "Contact",
    "Credentials",
    "Customer",
    "Email",
    "FeedDiff",
    "FileReport",
    "InputError",
    "InputSpec",
    "Issue",
    "Offer",
    "OfferConfig",
    "OfferOutcome",
    "OfferResult",
    "OptionsError",
    "Order",
    "OrderCustomer",
    "OutputError",
    "Phone",
    "Product",
    "Profile",
    "Progress",
    "Project",
    "PushConfig",
    "PushError",
    "RuleConfig",
    "Split",
    "State",
    "StateError",
    "SyncConfig",
    "SyncResult",
    "Target",
    "UnreadableError",
    "ValidationError",
    "XmlSyncError",
    "__version__",
    "build_file",
    "build_project",
    "build_records",
    "build_tree",
    "check_file",
    "check_files",
    "diff_feeds",
    "export_feed",
    "is_valid",
    "iter_errors",
    "iter_records",
    "load_profile",
    "parse",
    "project_from_dict",
    "push",
    "read_offer_requests",
    "schema_path",
    "schema_text",
    "send_offer_file",
    "send_offers",
    "sync",
    "validate",
    "validate_file",
    "write_feed",
]
