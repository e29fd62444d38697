"""The evidence pages of the demo's Sparta claims, as a person sees them in a browser.

Issue 7's evidence: `straitwatch report <id> --out page.html` on the demo's data, for the
article's claims about SPARTA and SPARTA II, rendered by headless Chromium. The page names
the vessel, its verdict and the Gibraltar passage with its time, and its map shows the track
passing the Gibraltar gate: the screenshot's pixels along the gate where the track crosses it
are the track's red and the gate's magenta.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import shapely
from demo_helpers import DemoRun, run_cli

from pipeline import db
from pipeline.analyst.maps import MapStyle
from pipeline.config import REPO_DIR
from pipeline.demo import ARTICLE_SOURCE
from tests.chromium import dom_text, rendered_dom, rgb, screenshot

SPARTA, SPARTA_II = 273351920, 273394890
VESSELS = {SPARTA: ("SPARTA", "9268710"), SPARTA_II: ("SPARTA II", "9160994")}
# the scenario's westbound Gibraltar crossings (the page shows them to the minute)
GIBRALTAR_WEST = {SPARTA: "2025-02-09 06:05:11", SPARTA_II: "2025-02-09 05:50:11"}
STYLE = MapStyle()
TRACK, GATE = rgb(STYLE.track_colour), rgb(STYLE.gate_colour)
SEA, LAND = rgb(STYLE.sea_colour), rgb(STYLE.land_colour)
PAGE_WIDTH, PAGE_HEIGHT = 900, 4200  # tall enough for the whole page: every map on screen


@dataclass(frozen=True)
class Page:
    report_id: str
    mmsi: int
    path: Path


def _article_claim_of(url: str, mmsi: int) -> str:
    """The report id of the seed article's claim that the matcher gave to this vessel."""
    with db.connect(url) as conn:
        rows = conn.execute(
            """SELECT r.report_id FROM straitwatch.reported_departures r
               JOIN straitwatch.departure_matches m USING (report_id)
               WHERE r.source = %s AND m.mmsi = %s""",
            (ARTICLE_SOURCE, mmsi),
        ).fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


@pytest.fixture(scope="module")
def pages(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Page]:
    out_dir = tmp_path_factory.mktemp("evidence-pages")
    made = {}
    for mmsi in VESSELS:
        report_id = _article_claim_of(demo_run.url, mmsi)
        out = out_dir / f"{mmsi}.html"
        status, output = run_cli(
            ["report", report_id, "--out", str(out)], {"DATABASE_URL": demo_run.url}
        )
        assert status == 0, output
        made[mmsi] = Page(report_id, mmsi, out)
    return made


def _passage_check(url: str, report_id: str) -> tuple[str, str, str]:
    """crossed_at (UTC, to the second), gate and direction of the passage check's crossing."""
    with db.connect(url) as conn:
        row = conn.execute(
            """SELECT to_char(c.crossed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                      c.gate, c.direction
               FROM straitwatch.claim_checks k
               JOIN straitwatch.chokepoint_crossings c USING (crossing_id)
               WHERE k.report_id = %s AND k.part = 'passage' AND c.chokepoint_id = 'gibraltar'""",
            (report_id,),
        ).fetchone()
    assert row is not None, f"{report_id}: no Gibraltar crossing behind the passage check"
    return row


# --------------------------------------------------------------------------- the map's SVG


def _points(text: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in text.split()])


@dataclass(frozen=True)
class GibraltarMap:
    index: int  # among the page's maps, in page order
    count: int  # maps on the page
    gate: shapely.LineString  # in SVG pixels
    track: shapely.MultiLineString
    crossing: shapely.Point  # where the drawn track crosses the drawn gate


def _gibraltar_map(html: str, gate_label: str) -> GibraltarMap:
    figures = re.findall(r'<figure data-event-kind="(\w+)">(.*?)</figure>', html, re.S)
    passages = [i for i, (kind, _) in enumerate(figures) if kind == "crossing"]
    assert len(passages) == 1, [kind for kind, _ in figures]
    svg = figures[passages[0]][1]
    gates_group = re.search(r'<g class="gates".*?</g>', svg, re.S)
    assert gates_group, "no gate drawn on the passage map"
    gates = {
        label: _points(points)
        for points, label in re.findall(
            r'<polyline points="([^"]+)"[^>]*/>\s*<text[^>]*>([^<]+)</text>', gates_group[0]
        )
    }
    assert gate_label in gates, sorted(gates)
    pieces = [_points(p) for p in re.findall(r'class="track-line" points="([^"]+)"', svg)]
    assert pieces, "no track drawn on the passage map"
    gate = shapely.LineString(gates[gate_label])
    track = shapely.MultiLineString(pieces)
    marker = re.search(r'<g class="events"[^>]*>\s*<circle cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert marker, "the passage is not marked"
    event = shapely.Point(float(marker[1]), float(marker[2]))
    crossed = shapely.get_parts(shapely.intersection(gate, track))
    assert len(crossed), "the drawn track does not cross the drawn gate"
    crossing = min(crossed, key=event.distance)
    # the marked passage is where the drawn track crosses the drawn gate
    assert crossing.distance(event) < 2.0, (crossing, event)
    return GibraltarMap(passages[0], len(figures), gate, track, crossing)


# --------------------------------------------------------------------------- the screenshot


def _map_origins(image: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) of the top left corner of each map in the screenshot, top to bottom.

    A map is a block of STYLE.height_px rows filled with sea and land colours, which nothing
    else on the page uses.
    """
    mapish = np.all(image == SEA, axis=2) | np.all(image == LAND, axis=2)
    rows = mapish.sum(axis=1) >= 100
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rows.astype(int), [0]])))
    origins = []
    for top, bottom in zip(edges[::2], edges[1::2], strict=True):
        assert abs((bottom - top) - STYLE.height_px) <= 3, (top, bottom)
        columns = np.flatnonzero(mapish[top:bottom].sum(axis=0) >= 100)
        assert abs((columns[-1] + 1 - columns[0]) - STYLE.width_px) <= 3, columns[[0, -1]]
        origins.append((int(top), int(columns[0])))
    return origins


def _colour_near(image: np.ndarray, row: float, col: float, colour, radius: int = 1) -> bool:
    r, c = round(row), round(col)
    patch = image[r - radius : r + radius + 1, c - radius : c + radius + 1]
    return bool(np.all(patch == np.array(colour, dtype=np.uint8), axis=2).any())


@pytest.mark.parametrize("mmsi", list(VESSELS), ids=["sparta", "sparta-ii"])
def test_the_evidence_page_shows_the_track_passing_the_gibraltar_gate(
    demo_run: DemoRun, pages: dict[int, Page], mmsi: int, tmp_path: Path
) -> None:
    page = pages[mmsi]
    name, imo = VESSELS[mmsi]
    crossed_at, gate, direction = _passage_check(demo_run.url, page.report_id)
    assert (crossed_at, direction) == (GIBRALTAR_WEST[mmsi], "westbound")
    shown = f"{crossed_at[:16]} UTC"  # the page gives times to the minute

    text = dom_text(rendered_dom(page.path, tmp_path / "profile-dom"))
    for expected in (
        f"Evidence for report {page.report_id}",
        "source: " + ARTICLE_SOURCE,
        "passing Strait of Gibraltar",
        "on (UTC day) 2025-02-11",  # "on Tuesday", read as published Wednesday 12 Feb
        f"date_mismatch {name} · MMSI {mmsi} · IMO {imo} · flag Russia (RU)",
        # the passage check: claimed, seen in AIS, delta, in words
        f"passage date_mismatch Strait of Gibraltar westbound on 2025-02-11 "
        f"passage westbound {shown} -1 d ",
        f"passed Gibraltar westbound {shown}, 2 days before the claimed Tuesday 2025-02-11",
        f"Passage of Strait of Gibraltar: passed westbound, {shown}",
        f"passed westbound {shown}",  # the marker's label on the map
        f"Strait of Gibraltar gate {gate}",
    ):
        assert expected in text, expected

    html = page.path.read_text(encoding="utf-8")
    chart = _gibraltar_map(html, f"Strait of Gibraltar gate {gate}")
    image = screenshot(
        page.path,
        tmp_path / "profile-shot",
        tmp_path / "page.png",
        width=PAGE_WIDTH,
        height=PAGE_HEIGHT,
    )
    origins = _map_origins(image)
    assert len(origins) == chart.count, f"{len(origins)} maps on screen, {chart.count} on the page"
    top, left = origins[chart.index]

    def at(point: shapely.Point) -> tuple[float, float]:
        return top + point.y, left + point.x

    # where the track crosses the gate: the track's red, drawn over the gate
    assert _colour_near(image, *at(chart.crossing), TRACK, radius=2), "no track at the gate"
    # along the gate either side of the track (inside the marker's ring): the gate's magenta
    along = chart.gate.project(chart.crossing)
    for offset in (-5, 5):
        point = chart.gate.interpolate(along + offset)
        assert _colour_near(image, *at(point), GATE), f"no gate {offset} px along it"
    # the gate runs on beyond the marker's ring, both ways
    for sign in (-1, 1):
        beyond = [chart.gate.interpolate(along + sign * d) for d in range(12, 41, 2)]
        seen = sum(_colour_near(image, *at(p), GATE) for p in beyond)
        assert seen >= 0.8 * len(beyond), f"the gate is missing beyond the crossing: {seen}"
    # the track runs on both sides of the gate: it passes, not just touches it
    piece = min(shapely.get_parts(chart.track), key=chart.crossing.distance)
    where = piece.project(chart.crossing)
    for sign in (-1, 1):
        away = [piece.interpolate(where + sign * d) for d in range(12, 41, 2)]
        seen = sum(_colour_near(image, *at(p), TRACK) for p in away)
        assert seen >= 0.8 * len(away), f"the track is missing on one side of the gate: {seen}"
        assert away[-1].distance(chart.gate) > 10, "the track does not leave the gate"
    # ... and on opposite sides of it: it crosses over
    (gx0, gy0), (gx1, gy1) = (chart.gate.interpolate(along + d).coords[0] for d in (-1, 1))
    sides = {
        np.sign((gx1 - gx0) * (p.y - gy0) - (gy1 - gy0) * (p.x - gx0))
        for p in (piece.interpolate(where - 40), piece.interpolate(where + 40))
    }
    assert sides == {-1.0, 1.0}, "the track does not cross over the gate"


def test_the_readme_example_is_the_demos_sparta_claim(demo_run: DemoRun) -> None:
    """The README's `straitwatch report` example names a report the demo creates."""
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"^straitwatch report (\S+) --out", readme, re.M)
    assert examples == [_article_claim_of(demo_run.url, SPARTA)]
