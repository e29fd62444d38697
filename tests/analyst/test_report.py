"""The evidence page, looked at as a person would: rendered by headless Chromium, read and seen."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from pipeline.analyst import maps
from pipeline.analyst.report import format_delta
from pipeline.cli import main
from tests.analyst.scenario import SPARTA_REPORT, dark_track
from tests.chromium import dom_text, pixels_of, rendered_dom, screenshot

TRACK_RGB = (0xD6, 0x27, 0x28)
GATE_RGB = (0xE6, 0x00, 0x7E)
LAND_RGB = (0xEB, 0xE4, 0xCF)
SEA_RGB = (0xDC, 0xEB, 0xF7)


@pytest.fixture
def sparta_page(shared_scenario, tmp_path: Path) -> Path:
    out = tmp_path / "sparta.html"
    assert (
        main(["--database-url", shared_scenario.url, "report", SPARTA_REPORT, "--out", str(out)])
        == 0
    )
    return out


def test_page_is_self_contained(sparta_page: Path) -> None:
    html = sparta_page.read_text(encoding="utf-8")
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(http" not in html
    # the only URL is the SVG namespace name, which a browser never fetches
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}


def test_chromium_shows_claim_verdict_checks_and_the_track_at_the_gate(
    sparta_page: Path, tmp_path: Path
) -> None:
    dom = rendered_dom(sparta_page, tmp_path / "profile-dom")
    text = dom_text(dom)
    for expected in (
        f"Evidence for report {SPARTA_REPORT}",
        "Sparta IV left Tartus and passed Gibraltar on Tuesday, bound for Kaliningrad.",
        "departed from Tartus (SYTTS)",
        "passing Strait of Gibraltar",
        "on (UTC day) 2025-02-11",
        "confirmed SPARTA IV · MMSI 273000001 · IMO 9743007 · flag Russia (RU)",
        "departure: 0 (as claimed) · passage: 0 (as claimed)",
        "x-sparta-iv-west",
        "pc-sparta-iv-tartus",
        "rule: every checked part confirmed",
        "destination no_ais_coverage Kaliningrad (RUKGD) 0 AIS positions in the window",
        "passage confirmed Strait of Gibraltar westbound on 2025-02-11 passage westbound "
        "2025-02-11 14:00 UTC 0 (as claimed)",
        "Departure: left Tartus, 2025-02-04 06:00 UTC",
        "Passage of Strait of Gibraltar: passed westbound, 2025-02-11 14:00 UTC",
        "Strait of Gibraltar gate tarifa",
        "scale at map centre",
    ):
        assert expected in text, expected
    assert dom.count('class="evidence-map"') == 2

    rgb = screenshot(
        sparta_page, tmp_path / "profile-shot", tmp_path / "page.png", width=900, height=2400
    )

    def where(colour: tuple[int, int, int]) -> np.ndarray:
        return pixels_of(rgb, colour)

    gate = where(GATE_RGB)
    track = where(TRACK_RGB)
    assert len(gate) > 50, "the gate is not drawn"
    assert len(track) > 500, "the track is not drawn"
    assert len(where(LAND_RGB)) > 10_000, "no land drawn"
    assert len(where(SEA_RGB)) > 10_000, "no sea drawn"
    # the Gibraltar map: the gate's pixels, and the track passing right beside them
    (y0, x0), (y1, x1) = gate.min(axis=0), gate.max(axis=0)
    near = track[
        (track[:, 0] >= y0 - 15)
        & (track[:, 0] <= y1 + 15)
        & (track[:, 1] >= x0 - 15)
        & (track[:, 1] <= x1 + 15)
    ]
    assert len(near) >= 10, "the track does not pass the gate"
    # the track runs across the gate: on both sides of it
    assert near[:, 1].min() < x0 and near[:, 1].max() > x1


def test_report_errors_are_one_line(shared_scenario, tmp_path: Path, capsys) -> None:
    scenario = shared_scenario
    out = tmp_path / "x.html"
    assert main(["--database-url", scenario.url, "report", "nope", "--out", str(out)]) == 2
    assert "no report 'nope' in reported_departures" in capsys.readouterr().err
    assert main(["--database-url", scenario.url, "report", SPARTA_REPORT, "--out", "x.pdf"]) == 2
    assert "expected a .html file" in capsys.readouterr().err
    assert not out.exists()


def test_dark_passage_is_drawn_as_silence() -> None:
    track = dark_track()
    layers = maps.MapLayers(
        track=track,
        gates=pd.DataFrame(
            {"label": ["g"], "geometry": [shapely.LineString([(-5.6, 35.87), (-5.6, 36.01)])]}
        ),
        ports=pd.DataFrame(columns=["port_id", "name", "lat", "lon", "radius_nm"]),
        events=pd.DataFrame(columns=["ts", "lat", "lon", "label"]),
    )
    extent = maps.Extent.around(track["lon"], track["lat"], aspect=760 / 520)
    svg = maps.render_map_svg(extent, layers)
    assert svg.count('class="silence"') == 1  # the 5-hour gap
    assert svg.count('class="track-line"') == 2  # before and after it
    assert 'data-track-points="72"' in svg


def test_extent_keeps_aspect_and_minimum_span() -> None:
    extent = maps.Extent.around(np.array([-5.6]), np.array([35.96]), aspect=2.0, min_span_km=30)
    width_km = (extent.lon_max - extent.lon_min) * np.cos(np.radians(35.96)) * 111.195
    height_km = (extent.lat_max - extent.lat_min) * 111.195
    assert width_km == pytest.approx(30, rel=1e-6)
    assert width_km / height_km == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (pd.Timedelta(0), "0 (as claimed)"),
        (pd.Timedelta(hours=2, minutes=15), "+02:15"),
        (pd.Timedelta(days=-1, hours=-3, minutes=-40), "-1 d 03:40"),
    ],
)
def test_format_delta(delta: pd.Timedelta, text: str) -> None:
    assert format_delta(delta) == text


def test_events_are_found_when_the_evidence_names_none(scenario, tmp_path: Path) -> None:
    """A verdict whose evidence names no event rows: the page looks for them near the claim."""
    from pipeline import db
    from pipeline.analyst.report import load_evidence, render_page

    with db.connect(scenario.url) as conn:
        conn.execute(
            """INSERT INTO reported_departures (report_id, vessel_name, via_chokepoint_id,
                                                via_date, via_direction)
               VALUES ('sparta-ii-dark', 'SPARTA II', 'gibraltar', '2025-02-14', 'westbound')"""
        )
        conn.execute(
            """INSERT INTO departure_matches (report_id, mmsi, verdict, evidence)
               VALUES ('sparta-ii-dark', 273000002, 'date_mismatch', '{}')"""
        )
        page = load_evidence(conn, "sparta-ii-dark")
    assert page.checks.empty
    assert page.events[["kind", "ref_id", "label"]].values.tolist() == [
        ["crossing", "x-sparta-ii-west", "passed (AIS silent) westbound"]
    ]
    # no interpolated point: the middle of the bracketing fixes stands for the passage
    assert page.events.loc[0, "lon"] == pytest.approx(-5.60)
    html = render_page(page, land_for=lambda extent: [])
    assert "The matcher recorded no individual checks." in html
    assert html.count('class="silence"') == 1
    assert "Passage of Strait of Gibraltar: passed (AIS silent) westbound" in html


def test_page_from_the_matchers_own_verdict(scenario, tmp_path: Path) -> None:
    """The matcher judges the Sparta IV claim; claim_checks and the page read its evidence."""
    from pipeline import db
    from pipeline.reports.match import match_reports

    with db.connect(scenario.url) as conn:
        conn.execute("DELETE FROM departure_matches")
        match_reports(conn, [SPARTA_REPORT])
        conn.commit()
        checks = conn.execute(
            """SELECT part, status, event, event_at, delta, crossing_id, port_call_id
               FROM straitwatch.claim_checks WHERE report_id = %s ORDER BY check_no""",
            (SPARTA_REPORT,),
        ).fetchall()
    assert [c[:3] for c in checks] == [
        ("departure", "confirmed", "port_call_departure"),
        ("passage", "confirmed", "crossing"),
        ("destination", "no_ais_coverage", None),
    ]
    assert checks[1][3].isoformat() == "2025-02-11T14:00:00+00:00"
    assert checks[1][4].total_seconds() == 0
    assert (checks[0][6], checks[1][5]) == ("pc-sparta-iv-tartus", "x-sparta-iv-west")

    out = tmp_path / "matched.html"
    assert main(["--database-url", scenario.url, "report", SPARTA_REPORT, "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert (
        "passed Gibraltar westbound 2025-02-11 14:00 UTC, on the claimed Tuesday 2025-02-11" in html
    )
    assert html.count('class="evidence-map"') == 2  # the departure from Tartus and the passage


def test_vessels_considered_are_listed_with_reasons(scenario) -> None:
    from pipeline import db
    from pipeline.analyst.report import load_evidence, render_page

    evidence = {
        "version": 1,
        "verdict": "ambiguous",
        "checks": [],
        "candidates": [
            {"mmsi": 273000002, "name": "SPARTA II", "imo": "9312341", "flag": "RU",
             "chosen": True, "reason": "matched by name"},
            {"mmsi": 273000001, "name": "SPARTA IV", "imo": "9743007", "flag": "RU",
             "chosen": False, "reason": "SPARTA IV carries another numeral than Sparta"},
        ],
    }  # fmt: skip
    with db.connect(scenario.url) as conn:
        conn.execute(
            """INSERT INTO reported_departures (report_id, vessel_name, via_chokepoint_id)
               VALUES ('sparta-plain', 'SPARTA', 'gibraltar')"""
        )
        conn.execute(
            """INSERT INTO departure_matches (report_id, mmsi, verdict, evidence)
               VALUES ('sparta-plain', NULL, 'vessel_not_found', %s)""",
            (psycopg.types.json.Jsonb(evidence),),
        )
        page = load_evidence(conn, "sparta-plain")
    html = render_page(page, land_for=lambda extent: [])
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "vessel_not_found no vessel found" in text
    assert "273000002 SPARTA II 9312341 RU yes matched by name" in text
    assert "273000001 SPARTA IV 9743007 RU no SPARTA IV carries another numeral than Sparta" in text
    assert "No AIS event of a candidate vessel near the claimed dates" in text
