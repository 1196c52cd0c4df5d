"""The ``xmlsync`` command line: a thin shell over the library, its commands in rooms by role.

Exit codes: 0 success or valid, 1 invalid data or a processing error, 2 usage error or unreadable input.
"""

from __future__ import annotations

from xmlsync.cli import build, check, profiles, send  # noqa: F401 - each module adds its commands to the group
from xmlsync.cli.common import ByteSize, Jobs, ProgressLine, cli, painted

__all__ = ["ByteSize", "Jobs", "ProgressLine", "cli", "painted"]
