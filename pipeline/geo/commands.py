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


_SKIP_WORDS = {
    "no_locode": "no UN/LOCODE",
    "malformed_locode": "malformed code",
    "locode_country_mismatch": "another country's code",
    "duplicate_locode": "duplicate code",
    "bad_position": "bad position",
}


def format_reference_counts(counts: dict[str, int]) -> str:
    """The load-reference summary: seed sizes, skipped WPI rows by reason, changes per table."""
    skipped = sum(counts[f"ports_skipped_{r}"] for r in _SKIP_WORDS)
    reasons = ", ".join(
        f"{words} {counts[f'ports_skipped_{r}']}" for r, words in _SKIP_WORDS.items()
    )
    lines = [
        f"seeds: {counts['chokepoints']} chokepoints, {counts['gates']} gates, "
        f"{counts['ports']} ports from {counts['wpi_rows']} World Port Index rows "
        f"({skipped} skipped: {reasons})"
    ]
    for table in ("chokepoints", "gates", "ports"):
        c = {k: counts[f"{table}_{k}"] for k in ("inserted", "updated", "deleted", "kept")}
        line = f"{table}: {c['inserted']} inserted, {c['updated']} updated, {c['deleted']} deleted"
        if c["kept"]:
            line += f", {c['kept']} kept (gone from the seeds, still referenced by events)"
        lines.append(line)
    return "\n".join(lines)


def _load_reference(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.geo.reference import load_reference

    with db.open_warehouse(args.settings) as conn:
        counts = load_reference(conn)
    print(format_reference_counts(counts))
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
