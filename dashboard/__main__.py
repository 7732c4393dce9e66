"""Command line for the dashboard's offline outputs: parse, call, print; no logic lives here.

`python -m dashboard pack [--run RUN_ID] [--runs-dir DIR] [--out DIR] [--store FILE]` writes a
run's meeting pack (HTML report, PowerPoint deck, decision log CSV). A user error prints one line
and exits 2; an unreadable review store is no error: the pack is built without reviews and a
note says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard", description="Research Theme Explorer dashboard tools."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pack = sub.add_parser(
        "pack",
        help="write a run's meeting pack (HTML, PPTX, decisions CSV)",
        description="Write the meeting pack of a run: an offline HTML report, "
        "a PowerPoint deck and the decision log as CSV.",
    )
    pack.add_argument("--run", dest="run_id", default=None, help="run id (default: latest)")
    pack.add_argument(
        "--runs-dir",
        default=os.environ.get("RTE_RUNS_DIR", "data/runs"),
        help="folder holding the runs (default: $RTE_RUNS_DIR or data/runs)",
    )
    pack.add_argument("--out", default="out", help="folder for the pack files (default: out)")
    pack.add_argument(
        "--store", default=None, help="review store (default: review.sqlite beside the runs folder)"
    )
    pack.add_argument(
        "--no-images",
        action="store_true",
        help="skip chart images in the deck (no Chromium needed)",
    )
    pack.set_defaults(func=_pack)
    return parser


def _pack(args: argparse.Namespace) -> int:
    from dashboard.meeting_pack import pack_for_run

    pack = pack_for_run(args.runs_dir, args.run_id, args.out, args.store, images=not args.no_images)
    if pack.review_problem:
        print(f"note: built without reviews: {pack.review_problem}")
    for path in (pack.html, pack.pptx, pack.decisions_csv):
        print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")
    if not pack.has_images and not args.no_images:
        print(
            "note: no chart images in the deck (Chromium missing: sudo apt-get install -y "
            "chromium); the HTML report has the interactive charts"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    from pipeline.contract import ContractError
    from pipeline.review import ReviewError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ContractError, ReviewError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
