"""CLI for the geo stage: `straitwatch load-reference` and `straitwatch detect`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from pipeline.errors import StraitwatchError


def _utc(text: str) -> datetime:
    """Parse an ISO 8601 date or time; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "load-reference", help="load chokepoints, gate lines and ports from seeds/ (idempotent)"
    )
    p.set_defaults(func=_load_reference)

    p = subparsers.add_parser(
        "detect", help="detect AIS gaps, chokepoint crossings and port calls in a time window"
    )
    p.add_argument("--start", type=_utc, help="window start, ISO 8601 (default: first position)")
    p.add_argument("--end", type=_utc, help="window end, exclusive (default: after the last)")
    p.set_defaults(func=_detect)


def _load_reference(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.geo.reference import load_reference

    with db.open_warehouse(args.settings) as conn:
        counts = load_reference(conn)
    print(", ".join(f"{name}: {n}" for name, n in counts.items()))
    return 0


def _detect(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.geo.detect import detect_window

    if args.start and args.end and args.start >= args.end:
        raise StraitwatchError(f"--start {args.start} is not before --end {args.end}")
    with db.open_warehouse(args.settings) as conn:
        result = detect_window(conn, args.start, args.end)
    print(result)
    return 0
