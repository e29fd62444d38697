"""The files the simulator writes: NOAA layout, one per UTC day, determinism, reuse, reports."""

from __future__ import annotations

import hashlib
import io
import json
import re
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from scenario_helpers import SMALL

from pipeline.cli import main
from pipeline.errors import StraitwatchError
from pipeline.scenario.fleet import FleetSettings
from pipeline.simulate import ScenarioFiles, read_truth, write_scenario
from pipeline.vessels import imo_valid_mask

NOAA_HEADER = (
    "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
    "Length,Width,Draft,Cargo,TransceiverClass"
)
REPORTS_HEADER = (
    "report_id,source,published_at,vessel_name,imo,mmsi,departure_port,departed_after,"
    "departed_before,via_chokepoint,via_date,via_direction,destination_port,claim_text"
)


def _digests(files: ScenarioFiles) -> dict[str, str]:
    manifest = json.loads((files.out_dir / "manifest.json").read_text())
    return {
        rel: hashlib.sha256((files.out_dir / rel).read_bytes()).hexdigest()
        for rel in manifest["files"]
    }


def test_one_noaa_file_per_utc_day_of_the_scenario(written: ScenarioFiles) -> None:
    names = [p.name for p in written.ais_files]
    days = pd.date_range("2025-01-20", "2025-02-23", freq="D")
    assert names == [f"AIS_{d:%Y_%m_%d}.csv" for d in days]
    for path in written.ais_files:
        with path.open() as f:
            assert f.readline().rstrip("\n") == NOAA_HEADER
        day = path.stem.removeprefix("AIS_").replace("_", "-")
        times = pd.read_csv(path, usecols=["BaseDateTime"])["BaseDateTime"]
        assert times.str.startswith(day).all(), path.name
        assert times.is_monotonic_increasing, path.name


def test_values_are_formatted_as_noaa_writes_them(written: ScenarioFiles) -> None:
    raw = pd.read_csv(written.ais_files[20], dtype=str, keep_default_na=False)
    assert raw["BaseDateTime"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()
    assert raw["LAT"].str.fullmatch(r"-?\d{1,2}\.\d{1,5}").all()
    assert raw["LON"].str.fullmatch(r"-?\d{1,3}\.\d{1,5}").all()
    assert raw["SOG"].str.fullmatch(r"\d{1,2}\.\d").all()
    assert raw["COG"].str.fullmatch(r"\d{1,3}\.\d").all()
    assert raw["Heading"].str.fullmatch(r"\d{1,3}\.0").all()
    assert raw["Status"].isin(["0.0", "1.0", "5.0", "7.0"]).all()
    assert raw["IMO"].str.fullmatch(r"(IMO\d{7})?").all()
    assert raw["VesselType"].str.fullmatch(r"\d{1,2}").all()
    assert (raw["TransceiverClass"] == "A").all()
    sparta = raw[raw["MMSI"] == "273351920"].iloc[0]
    assert (sparta["VesselName"], sparta["IMO"], sparta["VesselType"], sparta["Length"]) == (
        "SPARTA",
        "IMO9268710",
        "70",
        "126.0",
    )


def test_identities_are_well_formed_and_distinct(written: ScenarioFiles) -> None:
    v = written.vessels
    assert v["mmsi"].is_unique and v["name"].is_unique is False  # two ships named SPARTA
    assert v["mmsi"].between(201_000_000, 775_999_999).all()
    with_imo = v["imo"].notna()
    assert imo_valid_mask(v.loc[with_imo, "imo"]).all()
    assert v.loc[with_imo, "imo"].is_unique
    background = v[v["role"] == "background"]
    assert len(background) == 40
    assert not background["name"].str.contains("SPARTA").any()
    assert background["name"].is_unique
    named = v[v["role"] != "background"].set_index("key")
    assert named.loc["sparta", ["mmsi", "imo", "name"]].tolist() == [273351920, "9268710", "SPARTA"]
    assert named.loc["sparta_ii", ["mmsi", "imo"]].tolist() == [273394890, "9160994"]
    assert named.loc["sparta_iv", ["mmsi", "imo"]].tolist() == [273413440, "9743033"]
    trawler = named.loc["sparta_trawler"]
    assert (trawler["name"], trawler["ship_type"], pd.isna(trawler["imo"])) == ("SPARTA", 30, True)


def test_the_same_seed_gives_the_same_bytes(written: ScenarioFiles, tmp_path: Path) -> None:
    again = write_scenario(tmp_path, SMALL, reuse=False)
    assert not again.reused
    assert _digests(again) == _digests(written)


def test_another_seed_gives_another_background(
    written: ScenarioFiles, other_seed: tuple[ScenarioFiles, str]
) -> None:
    other, _ = other_seed
    assert other.reused  # as written by the simulate command
    named = ["mmsi", "name", "imo"]
    story = written.vessels[written.vessels["role"] != "background"][named]
    story_other = other.vessels[other.vessels["role"] != "background"][named]
    pd.testing.assert_frame_equal(story.reset_index(drop=True), story_other.reset_index(drop=True))
    bg = set(written.vessels.loc[written.vessels["role"] == "background", "mmsi"])
    bg_other = set(other.vessels.loc[other.vessels["role"] == "background", "mmsi"])
    assert len(bg & bg_other) < 5
    assert _digests(other)["ais/AIS_2025_02_09.csv"] != _digests(written)["ais/AIS_2025_02_09.csv"]
    # the story's planted events do not depend on the seed
    cols = ["kind", "mmsi", "place_id", "direction", "started_at"]
    mine = written.truth[written.truth["role"] != "background"][cols].reset_index(drop=True)
    theirs = other.truth[other.truth["role"] != "background"][cols].reset_index(drop=True)
    passages = mine["kind"] != "ais_gap"  # a gap's ends are fixes, which the seed moves
    pd.testing.assert_frame_equal(mine[passages], theirs[passages])


def test_files_written_for_the_same_inputs_are_reused(written: ScenarioFiles) -> None:
    again = write_scenario(written.out_dir, SMALL)
    assert again.reused
    assert again.ais_files == written.ais_files
    assert again.rows == written.rows
    pd.testing.assert_frame_equal(again.truth, written.truth)


def test_a_changed_file_is_not_reused(tmp_path: Path) -> None:
    config = replace(SMALL, fleet=FleetSettings(vessels=0))
    first = write_scenario(tmp_path, config)
    victim = first.ais_files[3]
    victim.write_text(victim.read_text()[:-200])
    second = write_scenario(tmp_path, config)
    assert not second.reused
    assert _digests(second) == _digests(first)
    third = write_scenario(tmp_path, replace(config, seed=7))
    assert not third.reused  # other inputs: other files, the old ones replaced
    assert sorted(p.name for p in (tmp_path / "ais").iterdir()) == [p.name for p in third.ais_files]


def test_truth_round_trips_through_its_csv(written: ScenarioFiles) -> None:
    back = read_truth(written.out_dir / "truth" / "events.csv")
    pd.testing.assert_frame_equal(back, written.truth, check_dtype=False)


def test_reports_csv_is_in_the_import_format(written: ScenarioFiles) -> None:
    with written.reports_csv.open() as f:
        assert f.readline().rstrip("\n") == REPORTS_HEADER
    reports = pd.read_csv(written.reports_csv, dtype=str, keep_default_na=False)
    assert reports["report_id"].is_unique
    by_id = reports.set_index("report_id")
    sparta = by_id.loc["SIM-NAVWATCH-01"]
    claimed = ["vessel_name", "imo", "via_chokepoint", "via_date", "via_direction"]
    assert sparta[claimed].tolist() == ["SPARTA", "9268710", "gibraltar", "2025-02-09", "westbound"]
    assert (sparta["departure_port"], sparta["destination_port"]) == ("SYTTS", "RULED")
    # one true claim per dark passage, naming the ship, the day and the way it went
    dark = written.truth[(written.truth["kind"] == "passage") & written.truth["inferred"]]
    names = written.vessels.set_index("mmsi")["name"]
    claimed = reports[reports["report_id"].str.startswith("SIM-DARK-")]
    assert len(claimed) == len(dark) == 2
    for (_, claim), (_, event) in zip(claimed.iterrows(), dark.iterrows(), strict=True):
        assert claim["vessel_name"] == names[event["mmsi"]]
        assert claim["via_chokepoint"] == event["place_id"]
        assert claim["via_date"] == event["started_at"].date().isoformat()
        assert claim["via_direction"] == event["direction"]
    # a false "went on through the strait" for the first ship of each port-call lane
    callers = written.vessels[written.vessels["lane"].str.startswith("algeciras_").fillna(False)]
    assert callers["lane"].nunique() >= 1
    calls = reports[reports["report_id"].str.startswith("SIM-CALL-")]
    assert len(calls) == callers["lane"].nunique()
    first = callers.drop_duplicates("lane")
    assert calls["vessel_name"].tolist() == first["name"].tolist()
    assert (calls["via_chokepoint"] == "gibraltar").all()


def test_simulate_command_writes_and_summarises(other_seed: tuple[ScenarioFiles, str]) -> None:
    files, out = other_seed
    summary = r"generated 35 daily NOAA files 2025-01-20\.\.2025-02-23: [\d,]+ fixes of 44 vessels"
    assert re.search(summary, out), out
    planted = files.truth["kind"].value_counts()
    assert (
        f"planted: {planted['passage']:,} passages, {planted['port_call']:,} port calls, "
        "3 AIS gaps (2 of the passages made with AIS off)"
    ) in out
    assert f"reports: {files.reports_csv}" in out
    again = io.StringIO()
    with redirect_stdout(again):
        assert (
            main(
                [
                    "simulate",
                    str(files.out_dir),
                    "--seed",
                    str(SMALL.seed + 1),
                    "--background-vessels",
                    "40",
                ]
            )
            == 0
        )
    assert "reused 35 daily NOAA files" in again.getvalue()


def test_simulate_command_refuses_a_bad_count(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", str(tmp_path), "--background-vessels", "-3"])
    assert stopped.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


SKAW_STOP = 'place = "skaw", speed_kn = 11.5 },\n  # Great'


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('imo = "9268710"', 'imo = "9268711"'),
            r"vessels\.sparta\.imo: '9268711' is not a valid IMO",
        ),
        ((SKAW_STOP, SKAW_STOP.replace("skaw", "skagen")), "unknown place 'skagen'"),
        (
            ("start = 2025-01-20T00:00:00Z", "start = 2025-01-20"),
            r"scenario\.start: expected a UTC",
        ),
        (("[scenario]", "[scenario"), "not valid TOML"),
        (
            ("at = 2025-02-09T06:05:00Z", "at = 2025-02-07T06:05:00Z"),
            r"vessels\.sparta\.itinerary\[3\]: \d+ nm at 2\d\.\d kn is outside this ship's 4-15 kn",
        ),
        (
            (
                'route = [[-1.6000, 50.1000], "dover_narrows"',
                'route = [[2.35, 48.85], "dover_narrows"',
            ),
            "background lane 'dover': the route crosses land",
        ),
    ],
)
def test_a_bad_scenario_file_names_the_key(tmp_path: Path, edit, message) -> None:
    text = SMALL.scenario_file.read_text()
    assert edit[0] in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(StraitwatchError) as caught:
        write_scenario(tmp_path / "out", replace(SMALL, scenario_file=bad))
    assert re.search(message, str(caught.value)), caught.value
