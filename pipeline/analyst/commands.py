"""CLI commands of the analyst layer: grant-analyst, report, transits."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import psycopg

from pipeline.errors import StraitwatchError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "grant-analyst",
        help="create a read-only role for analysts (SELECT on the straitwatch schema)",
        description="Create ROLE if missing (NOLOGIN unless --login) and grant it USAGE on the "
        "straitwatch schema, SELECT on every table and view in it and on those created later. "
        "Nothing else. Safe to run again. Give it a password with "
        "ALTER ROLE name PASSWORD '...' (or \\password name in psql).",
    )
    p.add_argument("role", metavar="ROLE", help="role name (lower-case letters, digits, _)")
    p.add_argument("--login", action="store_true", help="let the role log in (LOGIN)")
    p.set_defaults(func=_grant_analyst)

    p = subparsers.add_parser(
        "report",
        help="write the evidence page of one report (self-contained HTML)",
        description="One HTML page with the claim, the verdict, each check and a map of the "
        "vessel's track around each event; it loads nothing from the network when opened.",
    )
    p.add_argument("report_id", metavar="REPORT_ID")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    p.add_argument(
        "--hours",
        type=float,
        default=12.0,
        help="track drawn this many hours before and after each event (default 12)",
    )
    p.set_defaults(func=_report)

    p = subparsers.add_parser(
        "transits",
        help="chart of daily transits of one chokepoint by direction (PNG)",
    )
    p.add_argument("chokepoint", metavar="CHOKEPOINT", help="slug, name or alias")
    p.add_argument("--from", dest="start", type=_iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument(
        "--to", dest="end", type=_iso_date, required=True, metavar="YYYY-MM-DD", help="inclusive"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    p.add_argument(
        "--ship-type-group",
        action="append",
        metavar="GROUP",
        help="count only these groups (repeatable), e.g. cargo, tanker",
    )
    p.set_defaults(func=_transits)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def _note_geometry(conn: psycopg.Connection) -> None:
    from pipeline.analyst.postgis import geometry_note

    note = geometry_note(conn)
    if note:
        print(note, file=sys.stderr)


def _grant_analyst(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.analyst.grants import grant_analyst

    with db.open_warehouse(args.settings) as conn:
        result = grant_analyst(conn, args.role, login=args.login)
        _note_geometry(conn)
    state = "created" if result.created else "exists"
    login = "LOGIN" if result.login else "NOLOGIN"
    print(
        f"role {result.role} ({state}, {login}): SELECT on {result.relations} tables and views "
        f"of schema straitwatch, and on those that {', '.join(result.default_owners)} create later"
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.analyst.report import ReportConfig, write_report

    if args.out.suffix.lower() not in (".html", ".htm"):
        raise StraitwatchError(f"--out {args.out}: expected a .html file")
    if args.hours <= 0:
        raise StraitwatchError(f"--hours {args.hours}: expected a positive number of hours")
    config = ReportConfig(track_before_h=args.hours, track_after_h=args.hours)
    with db.open_warehouse(args.settings) as conn:
        path = write_report(conn, args.report_id, args.out, config)
        _note_geometry(conn)
    print(f"wrote {path}")
    return 0


def _transits(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.analyst.transits import write_transits_chart

    if args.out.suffix.lower() != ".png":
        raise StraitwatchError(f"--out {args.out}: expected a .png file")
    with db.open_warehouse(args.settings) as conn:
        path, table = write_transits_chart(
            conn, args.chokepoint, args.start, args.end, args.out, args.ship_type_group
        )
        _note_geometry(conn)
    totals = ", ".join(f"{d} {int(table[d].sum())}" for d in table.columns)
    print(f"wrote {path}: {len(table)} days, {totals}")
    return 0
