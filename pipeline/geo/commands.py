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


def _positive(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc


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
    p.add_argument(
        "--gap-hours",
        type=_positive,
        metavar="H",
        help="a silence longer than H hours is an AIS gap (default 6)",
    )
    p.add_argument(
        "--max-speed-kn",
        type=_positive,
        metavar="KN",
        help="fixes implying more than KN knots are rejected as position errors (default 50)",
    )
    p.add_argument(
        "--min-passage-interval-hours",
        type=_non_negative,
        metavar="H",
        help="count at most one passage per vessel and chokepoint within H hours, as IMF "
        "PortWatch does with 48 (default 0: every passage)",
    )
    p.add_argument(
        "--lookback-hours",
        type=_non_negative,
        metavar="H",
        help="positions read before the window for context (default 24)",
    )
    p.add_argument(
        "--chunk-positions",
        type=int,
        metavar="N",
        help="positions processed at once, bounding memory (default 2000000)",
    )
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
    from dataclasses import replace

    from pipeline import db
    from pipeline.geo.detect import DetectConfig, detect_window

    if args.start and args.end and args.start >= args.end:
        raise StraitwatchError(f"--start {args.start} is not before --end {args.end}")
    options = {
        "gap_threshold_h": args.gap_hours,
        "max_speed_kn": args.max_speed_kn,
        "min_passage_interval_h": args.min_passage_interval_hours,
        "lookback_h": args.lookback_hours,
        "chunk_positions": args.chunk_positions,
    }
    config = replace(DetectConfig(), **{k: v for k, v in options.items() if v is not None})
    with db.open_warehouse(args.settings) as conn:
        result = detect_window(conn, args.start, args.end, config)
    print(result)
    return 0
