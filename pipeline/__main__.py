"""Command line for the pipeline: parse arguments, call a stage, print; no logic lives here.

Subcommands: ingest (others are added by their own issues). A user error prints one line and
exits 2; it never shows a traceback.
"""

from __future__ import annotations

import os

# Set before anything can import huggingface_hub / transformers: a mistake fails at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import sys  # noqa: E402


class UserError(Exception):
    """An error caused by the user's input or environment; shown as one line, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Research Theme Explorer pipeline: ingest paper listings, cluster, publish runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(sub)
    return parser


# Each entry adds one subparser and sets `func` (args -> exit code) on it.
SUBCOMMANDS: list = []


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
