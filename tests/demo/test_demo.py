"""`straitwatch demo` end to end: progress, verdicts, planted events found, idempotent rerun."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from demo_helpers import DemoRun, demo_args, run_cli

from pipeline import db
from pipeline.demo import ARTICLE_SOURCE, STEPS
from pipeline.simulate import read_truth

SPARTA, SPARTA_II, SPARTA_IV, TRAWLER = 273351920, 273394890, 273413440, 273436180
# the scenario's lines are not the detector's gates: a passage time may differ by the time
# it takes to sail from one to the other
SLACK = pd.Timedelta(minutes=45)


def _frame(url: str, query: str) -> pd.DataFrame:
    with db.connect(url) as conn:
        return db.read_frame(conn, query)


def _truth(run: DemoRun) -> pd.DataFrame:
    return read_truth(run.work_dir / "scenario" / "truth" / "events.csv")


def _verdicts(run: DemoRun) -> pd.DataFrame:
    return _frame(
        run.url,
        """SELECT r.report_id, r.source, r.vessel_name, r.via_date, m.mmsi, m.verdict,
                  m.evidence, m.crossing_delta
           FROM straitwatch.reported_departures r
           JOIN straitwatch.departure_matches m USING (report_id)
           ORDER BY r.report_id, m.mmsi""",
    )


def _checks(evidence: dict) -> dict[str, dict]:
    return {check["part"]: check for check in evidence["checks"]}


def test_progress_shows_one_line_per_step(demo_run: DemoRun) -> None:
    lines = [ln for ln in demo_run.output.splitlines() if ln.startswith("[")]
    pattern = re.compile(r"^\[(\d)/7\] (\w+) +(.+) \((\d+\.\d) s\)$")
    matches = [pattern.match(ln) for ln in lines]
    assert all(matches), lines
    assert [m.group(2) for m in matches] == list(STEPS)
    notes = {m.group(2): m.group(3) for m in matches}
    positions = _frame(demo_run.url, "SELECT count(*) AS n FROM straitwatch.positions")["n"][0]
    assert notes["ingest"] == f"35 files loaded: {positions:,} rows, 0 rejected"
    assert re.fullmatch(
        r"chokepoints 37, gates \d+, ports [\d,]+ \([\d,]+ rows changed\)", notes["reference"]
    )
    # generated, or reused when tests/simulate wrote the same scenario first
    made = r"(generated|reused) 35 daily NOAA files 2025-01-20\.\.2025-02-23: [\d,]+ fixes of 44 "
    assert re.match(made + "vessels, in .*demo-work/scenario$", notes["scenario"]), notes
    assert notes["claims"].startswith("2 claims from tartus_withdrawal_article.txt")
    assert "published 2025-02-12 (the article carries no date" in notes["claims"]


def _step_notes(output: str) -> dict[str, str]:
    pattern = re.compile(r"^\[\d/7\] (\w+) +(.+) \(\d+\.\d s\)$")
    found = (pattern.match(ln) for ln in output.splitlines())
    return {m.group(1): m.group(2) for m in found if m}


def test_the_match_step_tallies_the_verdicts(demo_run: DemoRun) -> None:
    calls = pd.read_csv(demo_run.work_dir / "scenario" / "reports" / "simulated_reports.csv")
    n_calls = int(calls["report_id"].str.startswith("SIM-CALL-").sum())
    head, tally = _step_notes(demo_run.output)["match"].split(": ", 1)
    assert head == f"{8 + n_calls} reports"
    assert dict(part.rsplit(" ", 1) for part in tally.split(", ")) == {
        "date_mismatch": "3",  # the article's two ships, Dover a day off
        "confirmed": "4",  # the naval-watch posts on the convoy, the two dark passages
        "contradicted": str(n_calls),  # the Algeciras callers did not go on through
        "vessel_not_found": "1",  # URSA MAJOR
    }


def test_the_article_gives_sparta_and_sparta_ii_with_gibraltar_two_days_early(
    demo_run: DemoRun,
) -> None:
    verdicts = _verdicts(demo_run)
    article = verdicts[verdicts["source"] == ARTICLE_SOURCE]
    assert sorted(article["mmsi"]) == [SPARTA, SPARTA_II]
    for row in article.itertuples(index=False):
        assert row.vessel_name.upper() == {SPARTA: "SPARTA", SPARTA_II: "SPARTA II"}[row.mmsi]
        assert row.via_date == date(2025, 2, 11)  # "on Tuesday", published Wednesday 12 Feb
        assert row.verdict == "date_mismatch"
        checks = _checks(row.evidence)
        assert checks["departure"]["status"] == "confirmed"
        passage = checks["passage"]
        assert (passage["status"], passage["direction"], passage["delta_days"]) == (
            "date_mismatch",
            "westbound",
            -2,
        )
        assert passage["event_at"].startswith("2025-02-09T0")
        assert not passage["inferred"]
        assert checks["destination"]["status"] == "confirmed"
        assert -pd.Timedelta(days=3) < row.crossing_delta < -pd.Timedelta(days=1)


def test_the_verdict_table_says_it_in_words(demo_run: DemoRun) -> None:
    table = " ".join(demo_run.output.split("Verdicts", 1)[1].split())  # unwrapped
    for name in ("SPARTA", "SPARTA II"):
        assert f"vessel: {name} MMSI" in table
    said = re.findall(
        r"passage date_mismatch passed Gibraltar westbound 2025-02-09 (\d\d:\d\d) UTC, "
        r"2 days before the claimed Tuesday 2025-02-11",
        table,
    )
    assert len(said) == 2 and all("05:30" <= t <= "06:30" for t in said), said
    assert "SPARTA IV" not in demo_run.output
    assert str(SPARTA_IV) not in demo_run.output and str(TRAWLER) not in demo_run.output


def test_the_simulated_reports_get_their_verdicts(demo_run: DemoRun) -> None:
    verdicts = _verdicts(demo_run)
    verdicts = verdicts[verdicts["source"] != ARTICLE_SOURCE]
    by_id = verdicts.groupby("report_id")
    got = {rid: (sorted(g["verdict"]), sorted(g["mmsi"].dropna().astype(int))) for rid, g in by_id}
    assert got["SIM-NAVWATCH-01"] == (["confirmed"], [SPARTA])
    assert got["SIM-NAVWATCH-02"] == (["confirmed"], [SPARTA_II])
    assert got["SIM-NAVWATCH-03"] == (["date_mismatch"], [SPARTA])  # Dover on 13, not 14 Feb
    assert got["SIM-NAVWATCH-04"] == (["vessel_not_found"], [])  # URSA MAJOR sank in December
    dark = verdicts[verdicts["report_id"].str.startswith("SIM-DARK-")]
    assert len(dark) == 2 and (dark["verdict"] == "confirmed").all()
    assert all(_checks(ev)["passage"]["inferred"] for ev in dark["evidence"])
    calls = verdicts[verdicts["report_id"].str.startswith("SIM-CALL-")]
    assert len(calls) >= 1 and (calls["verdict"] == "contradicted").all()
    nav03 = verdicts.set_index("report_id").loc["SIM-NAVWATCH-03"]
    assert _checks(nav03["evidence"])["passage"]["delta_days"] == -1


def test_never_sparta_iv_or_the_trawler(demo_run: DemoRun) -> None:
    picked = set(_verdicts(demo_run)["mmsi"].dropna().astype(int))
    assert SPARTA_IV not in picked and TRAWLER not in picked


def test_the_detector_finds_the_planted_passages(demo_run: DemoRun) -> None:
    truth = _truth(demo_run)
    planted = truth[truth["kind"] == "passage"]
    found = _frame(
        demo_run.url,
        "SELECT mmsi, chokepoint_id, direction, crossed_at, inferred, prev_ts, next_ts "
        "FROM straitwatch.chokepoint_crossings",
    )
    key = ["mmsi", "chokepoint_id", "direction"]
    planted = planted.rename(columns={"place_id": "chokepoint_id"})
    pairs = planted.merge(found, on=key, how="outer", indicator=True, suffixes=("", "_found"))
    missing = pairs[pairs["_merge"] == "left_only"]
    extra = pairs[pairs["_merge"] == "right_only"]
    assert missing.empty, missing[[*key, "started_at"]]
    assert extra.empty, extra[[*key, "crossed_at"]]
    both = pairs[pairs["_merge"] == "both"]
    assert len(both) == len(planted) == len(found)
    inside = both["crossed_at"].between(both["window_start"] - SLACK, both["window_end"] + SLACK)
    late = both.loc[~inside, [*key, "window_start", "window_end", "crossed_at"]]
    assert inside.all(), late.to_string()
    assert (both["inferred"] == both["inferred_found"]).all()
    assert int(both["inferred"].sum()) == 2
    per_chokepoint = found.groupby(["chokepoint_id", "direction"]).size()
    expected = planted.groupby(["chokepoint_id", "direction"]).size()
    pd.testing.assert_series_equal(per_chokepoint, expected, check_names=False)


def test_the_detector_finds_the_planted_port_calls_and_gaps(demo_run: DemoRun) -> None:
    truth = _truth(demo_run)
    calls = _frame(
        demo_run.url, "SELECT mmsi, port_id, arrived_at, departed_at FROM straitwatch.port_calls"
    )
    planted = truth[truth["kind"] == "port_call"].rename(columns={"place_id": "port_id"})
    pairs = planted.merge(calls, on=["mmsi", "port_id"], how="left")
    pairs = pairs[(pairs["arrived_at"] - pairs["started_at"]).abs() < pd.Timedelta(hours=2)]
    assert len(pairs) == len(planted), planted
    left = pairs.dropna(subset=["ended_at"])
    assert ((left["departed_at"] - left["ended_at"]).abs() < pd.Timedelta(hours=2)).all()
    assert pairs.loc[pairs["ended_at"].isna(), "departed_at"].isna().all()
    story = calls[calls["mmsi"].isin([SPARTA, SPARTA_II, SPARTA_IV, TRAWLER])]
    assert len(story) == (planted["role"] != "background").sum()

    gaps = _frame(demo_run.url, "SELECT mmsi, started_at, ended_at FROM straitwatch.ais_gaps")
    planted_gaps = truth[truth["kind"] == "ais_gap"][["mmsi", "started_at", "ended_at"]]
    got = gaps.sort_values("mmsi", ignore_index=True)
    want = planted_gaps.sort_values("mmsi", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


_SNAPSHOT = {
    "ingested_files": "SELECT path, sha256, rows_read, rows_loaded, rows_rejected, loaded_at "
    "FROM straitwatch.ingested_files ORDER BY sha256",
    "positions": "SELECT count(*) AS n, sum(hashtext(mmsi::text || ts::text || lat::text || "
    "lon::text)) AS h FROM straitwatch.positions",
    "vessel_identity": "SELECT * FROM straitwatch.vessel_identity ORDER BY identity_id",
    "chokepoint_crossings": "SELECT * FROM straitwatch.chokepoint_crossings ORDER BY crossing_id",
    "port_calls": "SELECT * FROM straitwatch.port_calls ORDER BY port_call_id",
    "ais_gaps": "SELECT * FROM straitwatch.ais_gaps ORDER BY gap_id",
    "reported_departures": "SELECT * FROM straitwatch.reported_departures ORDER BY report_id",
    "departure_matches": "SELECT * FROM straitwatch.departure_matches ORDER BY report_id, mmsi",
}
# when a row was written is not what it says: a rerun may stamp these afresh
_WRITE_STAMPS = ("imported_at", "matched_at")


def _snapshot(url: str) -> dict[str, pd.DataFrame]:
    out = {}
    for table, query in _SNAPSHOT.items():
        frame = _frame(url, query)
        out[table] = frame.drop(columns=[c for c in _WRITE_STAMPS if c in frame.columns])
    return out


def test_a_second_run_changes_nothing(demo_run: DemoRun) -> None:
    before = _snapshot(demo_run.url)
    status, output = run_cli(demo_args(demo_run.work_dir), {"DATABASE_URL": demo_run.url})
    assert status == 0
    assert "reused 35 daily NOAA files" in output
    assert "35 files already loaded, skipped" in output
    assert "(0 rows changed)" in output  # the reference data too
    after = _snapshot(demo_run.url)
    for table in _SNAPSHOT:
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)
    assert (
        output.split("Verdicts", 1)[1].split("\n", 1)[1]
        == (demo_run.output.split("Verdicts", 1)[1].split("\n", 1)[1])
    )


@pytest.mark.slow
def test_demo_runs_on_the_embedded_server(demo_run: DemoRun, tmp_path: Path) -> None:
    """Without DATABASE_URL the demo starts its own PostgreSQL under STRAITWATCH_CACHE_DIR.

    Run as a user runs it, in its own process; the server it leaves running for the next
    command is stopped with `straitwatch db stop`.
    """
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["STRAITWATCH_CACHE_DIR"] = str(tmp_path / "cache")
    command = [sys.executable, "-m", "pipeline"]
    try:
        done = subprocess.run(
            [*command, *demo_args(demo_run.work_dir)],  # the scenario files are reused
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "cache" / "pgdata" / "postmaster.pid").is_file()
        assert "The tables are in schema straitwatch of postgresql://" in done.stdout
        notes = _step_notes(done.stdout)
        assert set(notes) == set(STEPS)
        assert notes["ingest"].startswith("35 files loaded: ")
        assert done.stdout.count("(TRT-sourced news report (seed article))") == 2
    finally:
        stop = subprocess.run(
            [*command, "db", "stop"], env=env, capture_output=True, text=True, timeout=120
        )
    assert stop.returncode == 0, stop.stderr
    assert "embedded PostgreSQL stopped" in stop.stdout
    assert not (tmp_path / "cache" / "pgdata" / "postmaster.pid").exists()
