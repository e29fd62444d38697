"""The `straitwatch` command line.

Each stage registers its own sub-commands from a `commands` module (`register(subparsers)`),
imported only when one of its commands runs, so `straitwatch ingest` never imports Airflow or
the matching code. Errors a user can fix print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import psycopg

from pipeline.config import Settings
from pipeline.errors import StraitwatchError

# command name -> module whose register() defines it
COMMAND_MODULES: dict[str, str] = {
    "db": "pipeline.cli",
    "ingest": "pipeline.ingest.commands",
    "load-reference": "pipeline.geo.commands",
    "detect": "pipeline.geo.commands",
    "import-reports": "pipeline.reports.commands",
    "extract-claims": "pipeline.reports.commands",
    "match": "pipeline.reports.commands",
    "simulate": "pipeline.demo",
    "demo": "pipeline.demo",
    "grant-analyst": "pipeline.analyst.commands",
    "report": "pipeline.analyst.commands",
    "transits": "pipeline.analyst.commands",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """The `db` command group: migrations and the embedded server."""
    p = subparsers.add_parser("db", help="database schema and the embedded server")
    sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    sub.add_parser("upgrade", help="apply pending migrations from sql/").set_defaults(
        func=_db_upgrade
    )
    sub.add_parser("status", help="list applied migrations").set_defaults(func=_db_status)
    sub.add_parser(
        "url", help="print the database URL in use (starts the embedded server if needed)"
    ).set_defaults(func=_db_url)
    sub.add_parser("stop", help="stop the embedded PostgreSQL server").set_defaults(func=_db_stop)


def _db_upgrade(args: argparse.Namespace) -> int:
    from pipeline import db

    with db.connect(db.resolve_url(args.settings)) as conn:
        done = db.upgrade(conn)
        print(f"applied {len(done)} migration(s)" + "".join(f"\n  {m.path.name}" for m in done))
    return 0


def _db_status(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.analyst.postgis import geometry_note

    with db.open_warehouse(args.settings) as conn:
        for version, name in db.applied_versions(conn):
            print(f"{version:04d} {name}")
        note = geometry_note(conn)
    if note:
        print(note)
    return 0


def _db_url(args: argparse.Namespace) -> int:
    from pipeline import db

    print(db.resolve_url(args.settings))
    return 0


def _db_stop(args: argparse.Namespace) -> int:
    from pipeline import db

    stopped = db.stop_embedded(args.settings)
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="straitwatch",
        description="AIS ingest, chokepoint / port-call detection and checks of reported "
        "ship movements, in PostgreSQL.",
    )
    parser.add_argument(
        "--database-url",
        help="libpq URI of the warehouse (default: $DATABASE_URL, else the embedded PostgreSQL)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMAND_MODULES[only]] if only else list(dict.fromkeys(COMMAND_MODULES.values()))
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # stage not built in this checkout
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--database-url")
    _, rest = pre.parse_known_args(argv)
    command = next((a for a in rest if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMAND_MODULES else None)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.database_url:
        settings = Settings(database_url=args.database_url, cache_dir=settings.cache_dir)
    args.settings = settings
    try:
        return int(args.func(args) or 0)
    except StraitwatchError as exc:
        print(f"straitwatch {args.command}: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"straitwatch {args.command}: database error: {first}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
