"""`straitwatch ingest PATH...`: load AIS files, print read / loaded / rejected per file."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import StraitwatchError

if TYPE_CHECKING:
    from pipeline.ingest.load import IngestResult
from pipeline.ingest.sniff import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="load AIS files (NOAA, DMA, NMEA, CSV, Parquet) into the warehouse",
        description="Load AIS files, one transaction per file. The format is sniffed unless "
        "--format is given; a file already loaded (same sha256) is skipped unless --reload is "
        "given. Refused records are kept in rejected_records with a reason; they are not errors.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="files to load")
    p.add_argument("--format", choices=FORMATS, dest="fmt", help="skip format detection")
    p.add_argument("--mapping", type=Path, help="column mapping (TOML) for csv / parquet")
    p.add_argument(
        "--received-at",
        metavar="T",
        help="ISO 8601 time for records that carry none (UTC unless it has an offset)",
    )
    p.add_argument(
        "--reload",
        action="store_true",
        help="load files already loaded again, replacing their earlier positions and rejects "
        "(e.g. to give --received-at to records refused as no_timestamp); rerun detect for "
        "their days afterwards",
    )
    p.set_defaults(func=run)


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time (UTC unless it has an offset). Words such as 'now' or 'today'
    and local layouts such as 03/04/2025 are refused: a file's time must be stated."""
    try:
        stamp = datetime.fromisoformat(text.strip())
    except (ValueError, TypeError) as exc:
        raise StraitwatchError(f"--received-at {text!r} is not an ISO 8601 time") from exc
    if stamp.tzinfo is None:
        return stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def describe(result: IngestResult) -> str:
    """One line per file: counts, and the reject reasons by frequency."""
    counts = f"read {result.rows_read}, loaded {result.rows_loaded}, "
    counts += f"rejected {result.rows_rejected}"
    reasons = sorted(result.rejects_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    why = f" [{', '.join(f'{k} {v}' for k, v in reasons)}]" if reasons else ""
    if result.skipped:
        return f"{result.path}: skipped, already loaded as file {result.file_id}: {counts}{why}"
    kind = result.format + (f" ({result.mapping})" if result.mapping else "")
    return f"{result.path}: {kind}: {counts}{why}"


def run(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.ingest.load import ingest_file
    from pipeline.ingest.sniff import detect

    received_at = parse_time(args.received_at) if args.received_at else None
    for path in args.paths:  # every file must be readable and recognisable before any loads
        detect(path, args.fmt, args.mapping)
    no_time = skipped = False
    with db.open_warehouse(args.settings) as conn:
        for path in args.paths:
            result = ingest_file(
                conn,
                path,
                fmt=args.fmt,
                mapping=args.mapping,
                received_at=received_at,
                reload=args.reload,
            )
            print(describe(result), flush=True)
            no_time |= result.rejects_by_reason.get("no_timestamp", 0) > 0
            skipped |= result.skipped
    if no_time and received_at is None:
        print(
            "note: records without a time were refused; --received-at T gives them one "
            "(with --reload for a file already loaded)"
        )
    if skipped and not args.reload and (received_at is not None or args.mapping or args.fmt):
        print("note: files already loaded were skipped as they were; --reload loads them again")
    return 0
