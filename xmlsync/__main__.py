"""``python -m xmlsync``: the same command line as ``xmlsync``."""

from xmlsync.cli import cli

if __name__ == "__main__":
    cli(prog_name="xmlsync")
