"""`straitwatch simulate` and `straitwatch demo`: the demo scenario, end to end, with progress.

The demo runs every stage through the same library calls as the CLI and the DAGs: reference
data, the simulated scenario (cached in a work directory), ingest of every daily NOAA file,
detection, the seed article's claims, the simulated reports, matching, and finally the
verdicts with their evidence in words. Each step prints one line with its counts and time.
Run twice, it changes nothing: files already loaded are skipped, events and verdicts are
rewritten with the same ids and values.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TextIO

import pandas as pd
import psycopg

from pipeline.config import SEEDS_DIR
from pipeline.simulate import DemoScenario, ScenarioFiles, write_scenario

ARTICLE_FILE = SEEDS_DIR / "reports" / "tartus_withdrawal_article.txt"
# The article carries no date. 2025-02-12 is the day after the Tuesday it mentions (11 Feb),
# the earliest it can have been written given the convoy passed Gibraltar on 9 Feb.
ARTICLE_PUBLISHED = date(2025, 2, 12)
ARTICLE_SOURCE = "TRT-sourced news report (seed article)"
STEPS = ("reference", "scenario", "ingest", "detect", "claims", "reports", "match")


class _Progress:
    """One line per step: number, name, what it did, how long it took; commits each step."""

    def __init__(self, conn: psycopg.Connection, out: TextIO, total: int) -> None:
        self.conn, self.out, self.total, self.n = conn, out, total, 0
        self.started = time.perf_counter()
        # on a terminal the step shows while it runs, then its line is rewritten in place
        self.live = bool(getattr(out, "isatty", lambda: False)())

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        self.n += 1
        note: list[str] = []
        clock = time.perf_counter()
        head = f"[{self.n}/{self.total}] {name:<10}"
        if self.live:
            self.out.write(f"{head} ...")
            self.out.flush()
        yield note
        # each step stands on its own, as its CLI command does: keep what it wrote
        self.conn.commit()
        took = time.perf_counter() - clock
        line = f"{head} {' '.join(note)} ({took:.1f} s)"
        self.out.write(f"\r\033[K{line}\n" if self.live else f"{line}\n")
        self.out.flush()


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def run_demo(
    conn: psycopg.Connection,
    work_dir: Path,
    *,
    config: DemoScenario | None = None,
    out: TextIO | None = None,
) -> pd.DataFrame:
    """Run the demo scenario end to end on `conn`; print progress and verdicts; return them.

    The scenario's files are written under work_dir/scenario (reused when present for the same
    configuration; `config` defaults to DemoScenario()). Returns the departure_matches rows of
    the demo's reports.
    """
    from pipeline.db import upgrade
    from pipeline.geo.detect import detect_window
    from pipeline.geo.reference import load_reference
    from pipeline.ingest.load import ingest_file
    from pipeline.reports.claims import extract_claims, import_reports, read_text_file
    from pipeline.reports.match import match_reports
    from pipeline.reports.present import describe_verdicts

    out = out or sys.stdout
    progress = _Progress(conn, out, len(STEPS))
    upgrade(conn)

    with progress.step("reference") as note:
        note.append(_describe_reference(load_reference(conn)))

    with progress.step("scenario") as note:
        files = write_scenario(Path(work_dir) / "scenario", config or DemoScenario())
        note.append(_describe_scenario(files))

    with progress.step("ingest") as note:
        loaded = skipped = rows = rejected = 0
        for path in files.ais_files:
            result = ingest_file(conn, path, fmt="noaa")
            if result.skipped:
                skipped += 1
            else:
                loaded += 1
                rows += result.rows_loaded
                rejected += result.rows_rejected
        parts = []
        if loaded:
            parts.append(f"{_plural(loaded, 'file')} loaded: {rows:,} rows, {rejected:,} rejected")
        if skipped:
            parts.append(f"{_plural(skipped, 'file')} already loaded, skipped")
        note.append("; ".join(parts))

    with progress.step("detect") as note:
        found = detect_window(conn)
        note.append(
            f"{found.positions:,} positions of {_plural(found.vessels, 'vessel')}: "
            f"{_plural(found.chokepoint_crossings, 'passage')}, "
            f"{_plural(found.port_calls + found.port_calls_continued, 'port call')}, "
            f"{_plural(found.ais_gaps, 'AIS gap')}"
        )

    with progress.step("claims") as note:
        text = read_text_file(ARTICLE_FILE)
        article_ids = extract_claims(conn, text, ARTICLE_PUBLISHED, ARTICLE_SOURCE)
        note.append(
            f"{_plural(len(article_ids), 'claim')} from {ARTICLE_FILE.name}, read as published "
            f"{ARTICLE_PUBLISHED.isoformat()} (the article carries no date; "
            f'"on Tuesday" resolves against it)'
        )

    with progress.step("reports") as note:
        n_reports = import_reports(conn, files.reports_csv)
        report_ids = pd.read_csv(files.reports_csv, dtype=str)["report_id"].tolist()
        note.append(f"{_plural(n_reports, 'report')} from {files.reports_csv.name}")

    with progress.step("match") as note:
        ids = [*article_ids, *report_ids]
        verdicts = match_reports(conn, ids)
        tally = verdicts["verdict"].value_counts()
        note.append(
            f"{_plural(len(ids), 'report')}: " + ", ".join(f"{v} {n}" for v, n in tally.items())
        )

    total = time.perf_counter() - progress.started
    out.write(f"\nVerdicts ({total:.0f} s in all)\n\n")
    out.write(describe_verdicts(conn, ids) + "\n")
    out.flush()
    return verdicts


def _describe_reference(counts: dict[str, int]) -> str:
    """'chokepoints 37, gates 56, ports 3,307 (0 rows changed)' from load_reference's counts."""
    tables = [name for name in ("chokepoints", "gates", "ports") if name in counts]
    changed = sum(
        n for name, n in counts.items() if name.endswith(("_inserted", "_updated", "_deleted"))
    )
    shown = ", ".join(f"{name} {counts[name]:,}" for name in tables) or "loaded"
    return f"{shown} ({changed:,} rows changed)"


def _describe_scenario(files: ScenarioFiles) -> str:
    days = len(files.ais_files)
    vessels = len(files.vessels)
    how = "reused" if files.reused else "generated"
    first = files.ais_files[0].stem.removeprefix("AIS_").replace("_", "-") if days else "-"
    last = files.ais_files[-1].stem.removeprefix("AIS_").replace("_", "-") if days else "-"
    return (
        f"{how} {_plural(days, 'daily NOAA file')} {first}..{last}: {files.rows:,} fixes of "
        f"{_plural(vessels, 'vessel')}, in {files.out_dir}"
    )


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="write the demo scenario: daily NOAA AIS files, a reports CSV and the ground truth",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="directory to write into")
    _scenario_options(p)
    p.add_argument(
        "--force", action="store_true", help="regenerate even if OUT_DIR holds the same scenario"
    )
    p.set_defaults(func=_simulate)

    p = subparsers.add_parser(
        "demo",
        help="the demo end to end: reference, scenario, ingest, detect, claims, match, verdicts",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        help="where the scenario files go (default: <cache dir>/demo)",
    )
    _scenario_options(p)
    p.set_defaults(func=_demo)


def _scenario_options(p: argparse.ArgumentParser) -> None:
    default = DemoScenario()
    p.add_argument("--seed", type=int, default=default.seed, help=f"default {default.seed}")
    p.add_argument(
        "--background-vessels",
        type=_non_negative,
        default=default.fleet.vessels,
        metavar="N",
        help=f"ships in the background traffic (default {default.fleet.vessels})",
    )
    p.add_argument(
        "--scenario",
        type=Path,
        default=default.scenario_file,
        metavar="FILE",
        help="scenario file (default: the demo's, seeds/scenarios/demo.toml)",
    )


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _config(args: argparse.Namespace) -> DemoScenario:
    default = DemoScenario()
    return replace(
        default,
        seed=args.seed,
        scenario_file=args.scenario,
        fleet=replace(default.fleet, vessels=args.background_vessels),
    )


def _simulate(args: argparse.Namespace) -> int:
    clock = time.perf_counter()
    files = write_scenario(args.out_dir, _config(args), reuse=not args.force)
    truth = files.truth
    print(_describe_scenario(files))
    print(f"  reports: {files.reports_csv}")
    print(f"  truth:   {files.out_dir / 'truth' / 'events.csv'}")
    kinds = truth["kind"].value_counts()
    dark = int(truth["inferred"].sum())
    planted = ", ".join(
        _plural(int(kinds.get(kind, 0)), word)
        for kind, word in (
            ("passage", "passage"),
            ("port_call", "port call"),
            ("ais_gap", "AIS gap"),
        )
    )
    print(f"  planted: {planted} ({dark} of the passages made with AIS off)")
    print(f"  took {time.perf_counter() - clock:.1f} s")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipeline import db

    work_dir = args.work_dir or (args.settings.cache_dir / "demo")
    url = db.resolve_url(args.settings)
    with db.connect(url) as conn:
        run_demo(conn, work_dir, config=_config(args))
    print(f"\nThe tables are in schema straitwatch of {_without_password(url)}")
    return 0


def _without_password(url: str) -> str:
    """The URL to show a user: any password replaced by ***."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured database"
    if params.get("password"):
        params["password"] = "***"
        if "://" in url:
            user = params.get("user", "")
            host = params.get("host", "")
            port = f":{params['port']}" if params.get("port") else ""
            return f"postgresql://{user}:***@{host}{port}/{params.get('dbname', '')}"
        return psycopg.conninfo.make_conninfo("", **params)
    return url
