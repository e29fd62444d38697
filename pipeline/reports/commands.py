"""CLI for reported departures: `import-reports`, `extract-claims` and `match`."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 day (YYYY-MM-DD): {text!r}") from exc


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-reports", help="load a reports CSV into reported_departures (idempotent)"
    )
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.set_defaults(func=_import_reports)

    p = subparsers.add_parser(
        "extract-claims", help="read vessel claims from a news article into reported_departures"
    )
    p.add_argument("article", type=Path, metavar="ARTICLE.txt")
    p.add_argument(
        "--published", type=_day, required=True, help="publication day (YYYY-MM-DD), for weekdays"
    )
    p.add_argument("--source", help="source name stored with the claims (default: file name)")
    p.set_defaults(func=_extract_claims)

    p = subparsers.add_parser(
        "match", help="give every report a verdict with evidence (departure_matches)"
    )
    p.add_argument(
        "--report",
        action="append",
        dest="reports",
        metavar="REPORT_ID",
        help="only this report (repeatable; default: all)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the counts per verdict")
    p.set_defaults(func=_match)


def _import_reports(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.reports.claims import import_reports

    with db.open_warehouse(args.settings) as conn:
        n = import_reports(conn, args.file)
        conn.commit()
    print(f"{args.file}: {n} report(s) imported")
    return 0


def _extract_claims(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.reports.claims import extract_claims, read_text_file

    text = read_text_file(args.article)
    source = args.source or args.article.name
    with db.open_warehouse(args.settings) as conn:
        ids = extract_claims(conn, text, args.published, source)
        conn.commit()
        rows = db.read_frame(
            conn,
            """SELECT report_id, vessel_name, departure_port_id, via_chokepoint_id, via_date,
                      via_direction, destination_port_id
               FROM straitwatch.reported_departures WHERE report_id = ANY(%s)
               ORDER BY report_id""",
            (ids,),
        )
    print(f"{args.article}: {len(ids)} vessel claim(s), published {args.published}")
    for r in rows.itertuples(index=False):
        fields = [
            f"from {r.departure_port_id}" if r.departure_port_id else None,
            f"via {r.via_chokepoint_id} {r.via_direction or ''} {r.via_date or ''}".rstrip()
            if r.via_chokepoint_id
            else None,
            f"to {r.destination_port_id}" if r.destination_port_id else None,
        ]
        print(f"  {r.report_id}  {r.vessel_name}: " + ", ".join(f for f in fields if f))
    return 0


def _match(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.reports.match import match_reports
    from pipeline.reports.present import describe_verdicts

    with db.open_warehouse(args.settings) as conn:
        matches = match_reports(conn, args.reports)
        conn.commit()
        if args.reports:
            found = set(matches["report_id"])
            missing = [r for r in args.reports if r not in found]
            if missing:
                from pipeline.errors import StraitwatchError

                raise StraitwatchError(f"no such report: {', '.join(missing)}")
        if not args.quiet and not matches.empty:
            print(describe_verdicts(conn, sorted(set(matches["report_id"]))))
            print()
    counts = matches.drop_duplicates("report_id")["verdict"].value_counts()
    print(
        f"{matches['report_id'].nunique()} report(s) matched: "
        + (", ".join(f"{v} {n}" for v, n in counts.items()) or "none")
    )
    return 0
