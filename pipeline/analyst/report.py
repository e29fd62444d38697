"""The evidence page of one report: claim, verdicts, checks and maps, as one self-contained HTML.

`load_evidence` reads what the page needs from the warehouse (I/O); `render_page` turns it into
HTML (pure, apart from reading the land mask shipped in `global-land-mask`); `write_report` does
both. The page loads nothing at view time: styles are inline and maps are inline SVG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely

from pipeline.analyst import land, maps
from pipeline.db import read_frame
from pipeline.errors import StraitwatchError


@dataclass(frozen=True)
class ReportConfig:
    track_before_h: float = 12.0  # track drawn before each event
    track_after_h: float = 12.0  # and after it
    event_search_days: int = 3  # events this far outside the claimed dates are still shown
    voyage_days: int = 30  # a departure this long before a claimed passage still belongs to it
    map_span_h: float = 2.5  # the map frames the track this long before and after the event
    max_events_per_vessel: int = 4
    min_map_span_km: float = 30.0
    style: maps.MapStyle = field(default_factory=maps.MapStyle)


@dataclass(frozen=True)
class EvidencePage:
    claim: dict[str, Any]
    matches: pd.DataFrame  # departure_matches rows with vessel identity columns
    checks: pd.DataFrame  # claim_checks rows of the report
    events: pd.DataFrame  # mmsi, kind, ts, lat, lon, label, chokepoint_id, port_id, ref_id
    tracks: dict[int, pd.DataFrame]  # event index -> positions (ts, lat, lon) around it
    gates: pd.DataFrame  # chokepoint_id, gate, label, geometry
    ports: pd.DataFrame  # port_id, name, lat, lon, radius_nm
    chokepoint_names: dict[str, str]
    generated_at: datetime


# --------------------------------------------------------------------------- loading

_CLAIM_SQL = "SELECT * FROM straitwatch.reported_departures WHERE report_id = %s"

_MATCHES_SQL = """
SELECT m.report_id, m.mmsi, m.verdict, m.evidence, m.departure_delta, m.crossing_delta,
       m.matched_at, vi.name AS vessel_name, vi.imo, vi.ship_type, mc.flag,
       mc.country AS flag_country
FROM straitwatch.departure_matches AS m
LEFT JOIN LATERAL (
    SELECT v.name, v.imo, v.ship_type FROM straitwatch.vessel_identity AS v
    WHERE v.mmsi = m.mmsi ORDER BY v.valid_to IS NULL DESC, v.valid_from DESC LIMIT 1
) AS vi ON true
LEFT JOIN straitwatch.mid_countries AS mc
       ON m.mmsi BETWEEN 201000000 AND 775999999 AND mc.mid = m.mmsi / 1000000
WHERE m.report_id = %s
ORDER BY m.mmsi NULLS LAST
"""

_CROSSINGS_SQL = """
SELECT c.crossing_id AS ref_id, c.mmsi, c.chokepoint_id, c.crossed_at AS ts, c.direction,
       c.inferred,
       -- without an interpolated point, the middle of the bracketing fixes marks the passage
       coalesce(c.lat, (c.prev_lat + c.next_lat) / 2) AS lat,
       coalesce(c.lon, (c.prev_lon + c.next_lon) / 2) AS lon
FROM straitwatch.chokepoint_crossings AS c
WHERE c.mmsi = ANY(%(mmsi)s) AND c.chokepoint_id = %(chokepoint)s
  AND c.crossed_at >= %(lo)s AND c.crossed_at < %(hi)s
ORDER BY c.mmsi, c.crossed_at
"""

_PORT_CALLS_SQL = """
SELECT pc.port_call_id AS ref_id, pc.mmsi, pc.port_id, pc.arrived_at, pc.departed_at,
       p.lat, p.lon, p.name AS port_name
FROM straitwatch.port_calls AS pc
JOIN straitwatch.ports AS p ON p.port_id = pc.port_id
WHERE pc.mmsi = ANY(%(mmsi)s) AND pc.port_id = %(port)s
  AND pc.arrived_at < %(hi)s AND coalesce(pc.departed_at, 'infinity') >= %(lo)s
ORDER BY pc.mmsi, pc.arrived_at
"""

_CHECKS_SQL = """
SELECT * FROM straitwatch.claim_checks WHERE report_id = %s ORDER BY mmsi NULLS LAST, check_no
"""

# The rows a check used as evidence, placed where they happened.
_EVIDENCE_EVENTS_SQL = """
SELECT k.mmsi, 'crossing' AS kind, c.crossed_at AS ts,
       coalesce(c.lat, (c.prev_lat + c.next_lat) / 2) AS lat,
       coalesce(c.lon, (c.prev_lon + c.next_lon) / 2) AS lon,
       CASE WHEN c.inferred THEN 'passed (AIS silent) ' ELSE 'passed ' END || c.direction AS label,
       c.chokepoint_id, NULL AS port_id, c.crossing_id AS ref_id
FROM straitwatch.claim_checks AS k
JOIN straitwatch.chokepoint_crossings AS c ON c.crossing_id = k.crossing_id
WHERE k.report_id = %(report)s
UNION ALL
SELECT k.mmsi,
       CASE k.event WHEN 'port_call_departure' THEN 'departure' ELSE 'arrival' END,
       CASE k.event WHEN 'port_call_departure' THEN pc.departed_at ELSE pc.arrived_at END,
       p.lat, p.lon,
       CASE k.event WHEN 'port_call_departure' THEN 'left ' ELSE 'arrived ' END || p.name,
       NULL, pc.port_id, pc.port_call_id
FROM straitwatch.claim_checks AS k
JOIN straitwatch.port_calls AS pc ON pc.port_call_id = k.port_call_id
JOIN straitwatch.ports AS p ON p.port_id = pc.port_id
WHERE k.report_id = %(report)s
  AND (k.event <> 'port_call_departure' OR pc.departed_at IS NOT NULL)
"""

_TRACK_SQL = """
SELECT ts, lat, lon, sog FROM straitwatch.positions
WHERE mmsi = %s AND ts >= %s AND ts < %s ORDER BY ts
"""


def _claim_window(claim: dict[str, Any], pad: timedelta) -> tuple[datetime, datetime]:
    """The span of time the claim speaks about, widened by `pad` on both sides."""
    times: list[datetime] = []
    for key in ("departed_after", "departed_before"):
        if claim.get(key) is not None:
            times.append(claim[key])
    if claim.get("via_date") is not None:
        day = datetime.combine(claim["via_date"], datetime.min.time(), tzinfo=UTC)
        times += [day, day + timedelta(days=1)]
    if not times and claim.get("published_at") is not None:
        times += [claim["published_at"] - timedelta(days=30), claim["published_at"]]
    if not times:
        raise StraitwatchError(
            f"report {claim['report_id']} gives no date: no window to look for events in"
        )
    return min(times) - pad, max(times) + pad


def load_evidence(
    conn: psycopg.Connection, report_id: str, config: ReportConfig = ReportConfig()
) -> EvidencePage:
    """Everything the evidence page of `report_id` shows, read in the caller's transaction."""
    claims = read_frame(conn, _CLAIM_SQL, (report_id,))
    if claims.empty:
        raise StraitwatchError(f"no report {report_id!r} in reported_departures")
    claim = {k: (None if _missing(v) else v) for k, v in claims.iloc[0].to_dict().items()}
    matches = read_frame(conn, _MATCHES_SQL, (report_id,))
    if matches.empty:
        raise StraitwatchError(f"report {report_id} has no verdict yet: run `straitwatch match`")
    checks = read_frame(conn, _CHECKS_SQL, (report_id,))
    events = _evidence_events(conn, report_id)
    # vessels whose checks name no event: look for their events near the claimed dates
    unexplained = sorted({int(m) for m in matches["mmsi"].dropna()} - set(events["mmsi"]))
    if unexplained:
        lo, hi = _claim_window(claim, timedelta(days=config.event_search_days))
        searched = _events(conn, claim, unexplained, lo, hi, config)
        events = pd.concat([events, searched], ignore_index=True) if len(events) else searched
    events = _order_events(events, config)
    half_before = timedelta(hours=config.track_before_h)
    half_after = timedelta(hours=config.track_after_h)
    tracks = {
        int(i): read_frame(conn, _TRACK_SQL, (int(e.mmsi), e.ts - half_before, e.ts + half_after))
        for i, e in events.iterrows()
    }
    gates = read_frame(
        conn,
        """SELECT g.chokepoint_id, g.gate, g.seq, g.wkt, c.name AS chokepoint_name
           FROM straitwatch.chokepoint_gates g JOIN straitwatch.chokepoints c USING (chokepoint_id)
           ORDER BY g.chokepoint_id, g.seq""",
    )
    if not gates.empty:
        gates["geometry"] = shapely.from_wkt(gates["wkt"].to_numpy())
        gates["label"] = gates["chokepoint_name"] + " gate " + gates["gate"].astype(str)
    else:
        gates = pd.DataFrame(columns=["chokepoint_id", "gate", "label", "geometry"])
    ports = read_frame(conn, "SELECT port_id, name, lat, lon, radius_nm FROM straitwatch.ports")
    names: dict[str, str] = dict(
        conn.execute("SELECT chokepoint_id, name FROM straitwatch.chokepoints").fetchall()
    )
    return EvidencePage(
        claim=claim,
        matches=matches,
        checks=checks,
        events=events,
        tracks=tracks,
        gates=gates,
        ports=ports,
        chokepoint_names=names,
        generated_at=datetime.now(UTC),
    )


_EVENT_COLUMNS = ["mmsi", "kind", "ts", "lat", "lon", "label", "chokepoint_id", "port_id", "ref_id"]


def _events(
    conn: psycopg.Connection,
    claim: dict[str, Any],
    mmsis: list[int],
    lo: datetime,
    hi: datetime,
    config: ReportConfig,
) -> pd.DataFrame:
    """AIS events of these vessels near the claimed dates that bear on the claimed parts."""
    frames: list[pd.DataFrame] = []
    voyage = timedelta(days=config.voyage_days)
    if mmsis and claim.get("departure_port_id"):
        # without a claimed departure window, the vessel left some time before the passage
        dep_lo = lo if claim.get("departed_after") is not None else lo - voyage
        frames.append(
            _port_call_events(conn, mmsis, claim["departure_port_id"], dep_lo, hi, "departure")
        )
    if mmsis and claim.get("via_chokepoint_id"):
        crossings = read_frame(
            conn,
            _CROSSINGS_SQL,
            {"mmsi": mmsis, "chokepoint": claim["via_chokepoint_id"], "lo": lo, "hi": hi},
        )
        # a passage inferred across a gap has no fix on the gate: say so on the map
        label = np.where(crossings["inferred"], "passed (AIS silent) ", "passed ")
        frames.append(
            crossings.assign(
                kind="crossing", label=label + crossings["direction"].astype(str), port_id=None
            )
        )
    if mmsis and claim.get("destination_port_id"):
        frames.append(
            _port_call_events(conn, mmsis, claim["destination_port_id"], lo, hi + voyage, "arrival")
        )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=_EVENT_COLUMNS)
    return pd.concat([f[_EVENT_COLUMNS] for f in frames], ignore_index=True)


def _port_call_events(
    conn: psycopg.Connection,
    mmsis: list[int],
    port_id: str,
    lo: datetime,
    hi: datetime,
    kind: str,
) -> pd.DataFrame:
    """Departures from (kind 'departure') or arrivals at ('arrival') a port in [lo, hi)."""
    calls = read_frame(conn, _PORT_CALLS_SQL, {"mmsi": mmsis, "port": port_id, "lo": lo, "hi": hi})
    at = "departed_at" if kind == "departure" else "arrived_at"
    calls = calls[calls[at].notna()]
    verb = "left " if kind == "departure" else "arrived "
    return calls.assign(
        kind=kind, ts=calls[at], label=verb + calls["port_name"], chokepoint_id=None
    )


def _evidence_events(conn: psycopg.Connection, report_id: str) -> pd.DataFrame:
    events = read_frame(conn, _EVIDENCE_EVENTS_SQL, {"report": report_id})
    return events.drop_duplicates(["mmsi", "ref_id", "kind"]) if len(events) else events


def _order_events(events: pd.DataFrame, config: ReportConfig) -> pd.DataFrame:
    """Each vessel's events in time order, at most `max_events_per_vessel` of them."""
    if events.empty:
        return pd.DataFrame(columns=_EVENT_COLUMNS)
    events = events.assign(ts=pd.to_datetime(events["ts"], utc=True))
    events = events.sort_values(["mmsi", "ts"], kind="stable")
    events = events.groupby("mmsi", sort=False).head(config.max_events_per_vessel)
    return events.reset_index(drop=True)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


# --------------------------------------------------------------------------- rendering

_VERDICT_COLOURS = {
    "confirmed": "#1a7f37",
    "date_mismatch": "#b26b00",
    "contradicted": "#c62828",
    "no_ais_coverage": "#5f6b7a",
    "vessel_not_found": "#5f6b7a",
    "ambiguous": "#6a3d9a",
}

_CLAIM_FIELDS = [
    ("vessel_name", "vessel"),
    ("imo", "IMO"),
    ("mmsi", "MMSI"),
    ("departure_port_id", "departed from"),
    ("departed_after", "departed after"),
    ("departed_before", "departed before"),
    ("via_chokepoint_id", "passing"),
    ("via_date", "on (UTC day)"),
    ("via_direction", "direction"),
    ("destination_port_id", "bound for"),
]

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:820px;color:#1d2733;
line-height:1.4}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ccd;
padding-bottom:3px}h3{font-size:14px;margin:18px 0 6px}
.meta{color:#55606e;font-size:13px}
blockquote{margin:12px 0;padding:8px 12px;background:#f4f6f8;border-left:4px solid #9aa8b8}
table{border-collapse:collapse;font-size:13px;width:100%}
td,th{border:1px solid #d5dbe1;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eef1f4}
.verdict{display:inline-block;color:#fff;border-radius:4px;padding:2px 9px;font-weight:bold}
.card{border:1px solid #d5dbe1;border-radius:6px;padding:10px 12px;margin:8px 0}
pre{background:#f4f6f8;padding:8px;font-size:12px;overflow-x:auto}
figure{margin:8px 0 18px}figcaption{font-size:12px;color:#55606e;margin-top:4px}
footer{margin-top:30px;font-size:11px;color:#7a8591}
"""


def _fmt(value: Any) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, pd.Timestamp | datetime):
        ts = pd.Timestamp(value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ts.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, timedelta | pd.Timedelta):
        return format_delta(pd.Timedelta(value))
    return str(value)


def format_delta(delta: pd.Timedelta) -> str:
    """'0' or a signed span such as '+1 d 02:15' / '-03:40' (AIS minus claim)."""
    if delta == pd.Timedelta(0):
        return "0 (as claimed)"
    sign = "-" if delta < pd.Timedelta(0) else "+"
    total_min = round(abs(delta).total_seconds() / 60)
    days, rest = divmod(total_min, 1440)
    hours, minutes = divmod(rest, 60)
    return (
        f"{sign}{days} d {hours:02d}:{minutes:02d}" if days else f"{sign}{hours:02d}:{minutes:02d}"
    )


def _evidence_json(evidence: Any) -> dict[str, Any]:
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    return evidence if isinstance(evidence, dict) else {}


_EVENT_WORDS = {
    "crossing": "passage",
    "port_call_departure": "departure",
    "port_call_arrival": "arrival",
    "port_call_open": "in port since",
    "ais_destination": "AIS destination set",
}


def _check_cells(check: pd.Series, page: EvidencePage) -> list[str]:
    """part, status, claimed, AIS, delta, summary, evidence ids: the text of one table row."""

    def port(pid: Any) -> str:
        names = page.ports.loc[page.ports["port_id"] == pid, "name"]
        return f"{names.iloc[0]} ({pid})" if len(names) else str(pid)

    def have(key: str) -> bool:
        return key in check.index and not _missing(check[key])

    claimed: list[str] = []
    if have("claimed_port_id"):
        claimed.append(port(check["claimed_port_id"]))
    if have("chokepoint_id") and check["part"] == "passage":
        claimed.append(page.chokepoint_names.get(check["chokepoint_id"], check["chokepoint_id"]))
    if have("expected_direction"):
        claimed.append(str(check["expected_direction"]))
    if have("claimed_date"):
        claimed.append(f"on {check['claimed_date']}")
    elif have("claimed_from") or have("claimed_to"):
        lo = _fmt(check["claimed_from"]) if have("claimed_from") else "…"
        hi = _fmt(check["claimed_to"]) if have("claimed_to") else "…"
        claimed.append(f"{lo} to {hi}")
    observed: list[str] = []
    if have("event"):
        observed.append(_EVENT_WORDS.get(check["event"], str(check["event"])))
    if have("direction"):
        observed.append(str(check["direction"]))
    if have("port_id"):
        observed.append(port(check["port_id"]))
    if have("event_at"):
        observed.append(_fmt(check["event_at"]))
    if have("inferred") and bool(check["inferred"]):
        observed.append("(during an AIS gap)")
    if not observed and have("positions_in_window"):
        observed.append(f"{int(check['positions_in_window'])} AIS positions in the window")
    ids = [str(check[k]) for k in ("crossing_id", "port_call_id", "gap_id") if have(k)]
    return [
        str(check["part"]),
        str(check["status"]) if have("status") else "—",
        " ".join(claimed) or "—",
        " ".join(observed) or "—",
        format_delta(pd.Timedelta(check["delta"])) if have("delta") else "—",
        str(check["summary"]) if have("summary") else "",
        ", ".join(ids) or "—",
    ]


def _candidates_table(page: EvidencePage) -> list[str]:
    """The vessels the matcher weighed for the claim, chosen or set aside, with its reasons."""
    seen: dict[Any, dict[str, Any]] = {}
    for evidence in page.matches["evidence"]:
        for cand in _evidence_json(evidence).get("candidates") or []:
            if isinstance(cand, dict):
                seen.setdefault(cand.get("mmsi"), cand)
    if not seen:
        return []
    out = [
        '<h2>Vessels considered</h2><table class="candidates"><tr><th>MMSI</th><th>name</th>'
        "<th>IMO</th><th>flag</th><th>chosen</th><th>why</th></tr>"
    ]
    for cand in seen.values():
        cells = [
            cand.get("mmsi"),
            cand.get("name"),
            cand.get("imo"),
            cand.get("flag"),
            "yes" if cand.get("chosen") else "no",
            cand.get("reason"),
        ]
        out.append("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return out


def render_page(
    page: EvidencePage,
    config: ReportConfig = ReportConfig(),
    *,
    land_for: Callable[[maps.Extent], list[np.ndarray]] | None = None,
) -> str:
    """The evidence page as one HTML document (inline CSS and SVG, no script, no link)."""
    land_for = land_for or _land_rings
    claim = page.claim
    rid = escape(str(claim["report_id"]))
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Evidence for report {rid}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evidence for report {rid}</h1>",
        '<p class="meta">'
        + escape(
            " · ".join(
                x
                for x in (
                    f"source: {claim['source']}" if claim.get("source") else "",
                    f"published {_fmt(claim.get('published_at'))}"
                    if claim.get("published_at") is not None
                    else "",
                )
                if x
            )
        )
        + "</p>",
    ]
    if claim.get("claim_text"):
        parts.append(f"<blockquote>{escape(str(claim['claim_text']))}</blockquote>")
    parts.append('<h2>Claim</h2><table class="claim">')
    for key, label in _CLAIM_FIELDS:
        if claim.get(key) is None:
            continue
        value = claim[key]
        if key == "via_chokepoint_id":
            value = page.chokepoint_names.get(value, value)
        elif key in ("departure_port_id", "destination_port_id"):
            names = page.ports.loc[page.ports["port_id"] == value, "name"]
            value = f"{names.iloc[0]} ({value})" if len(names) else value
        parts.append(f"<tr><th>{escape(label)}</th><td>{escape(_fmt(value))}</td></tr>")
    parts.append("</table>")

    parts.append("<h2>Verdict</h2>")
    for m in page.matches.itertuples(index=False):
        colour = _VERDICT_COLOURS.get(m.verdict, "#333")
        vessel = (
            f"{m.vessel_name or 'unnamed'} · MMSI {int(m.mmsi)}"
            + (f" · IMO {m.imo}" if not _missing(m.imo) else "")
            + (f" · flag {m.flag_country} ({m.flag})" if not _missing(m.flag) else "")
            if not _missing(m.mmsi)
            else "no vessel found"
        )
        evidence = _evidence_json(m.evidence)
        why = "".join(
            f"<br>{escape(label)}: {escape(str(evidence[key]))}"
            for key, label in (("summary", "finding"), ("rule", "rule"))
            if evidence.get(key)
        )
        parts.append(
            f'<div class="card"><span class="verdict" style="background:{colour}">'
            f"{escape(m.verdict)}</span> {escape(vessel)}"
            f"<br>departure: {escape(_fmt(m.departure_delta))} · "
            f"passage: {escape(_fmt(m.crossing_delta))}{why}"
            f'<br><span class="meta">matched {escape(_fmt(m.matched_at))}</span></div>'
        )

    parts.extend(_candidates_table(page))
    parts.append("<h2>Checks</h2>")
    if page.checks.empty:
        parts.append('<p class="meta">The matcher recorded no individual checks.</p>')
    for mmsi, checks in page.checks.groupby(page.checks["mmsi"].fillna(0), sort=False):
        who = f"MMSI {int(mmsi)}" if mmsi else "no vessel"
        parts.append(
            f'<h3>{escape(who)}</h3><table class="checks"><tr><th>part</th><th>status</th>'
            "<th>claimed</th><th>AIS</th><th>delta (AIS − claim)</th><th>finding</th>"
            "<th>evidence rows</th></tr>"
        )
        for _, check in checks.iterrows():
            cells = _check_cells(check, page)
            colour = _VERDICT_COLOURS.get(cells[1], "#333")
            parts.append(
                f"<tr><td>{escape(cells[0])}</td>"
                f'<td style="color:{colour};font-weight:bold">{escape(cells[1])}</td>'
                + "".join(f"<td>{escape(c)}</td>" for c in cells[2:])
                + "</tr>"
            )
        parts.append("</table>")

    parts.append("<h2>Maps</h2>")
    if page.events.empty:
        parts.append(
            '<p class="meta">No AIS event of a candidate vessel near the claimed dates, '
            "so there is no track to show.</p>"
        )
    for i, event in page.events.iterrows():
        track = page.tracks.get(int(i), pd.DataFrame(columns=["ts", "lat", "lon"]))
        parts.append(_event_figure(int(i), event, track, page, config, land_for))
    version_text = _package_version()
    parts.append(
        f"<footer>Generated {escape(_fmt(page.generated_at))} by straitwatch {version_text}. "
        "Land: GLOBE 1 km land mask (global-land-mask package). Gates and ports: straitwatch "
        "reference data. Times are UTC.</footer></body></html>"
    )
    return "\n".join(parts)


def _event_figure(
    index: int,
    event: pd.Series,
    track: pd.DataFrame,
    page: EvidencePage,
    config: ReportConfig,
    land_for: Callable[[maps.Extent], list[np.ndarray]],
) -> str:
    style = config.style
    track = track.assign(ts=pd.to_datetime(track["ts"], utc=True)) if not track.empty else track
    event_gates = page.gates[page.gates["chokepoint_id"] == event["chokepoint_id"]]
    # frame the event and the track close to it; the rest of the track runs off the map
    near = track
    if not track.empty:
        span = pd.Timedelta(hours=config.map_span_h)
        near = track[(track["ts"] >= event["ts"] - span) & (track["ts"] <= event["ts"] + span)]
    lons = [near["lon"].to_numpy(dtype=float), np.array([event["lon"]], dtype=float)]
    lats = [near["lat"].to_numpy(dtype=float), np.array([event["lat"]], dtype=float)]
    if not event_gates.empty:
        xy = shapely.get_coordinates(event_gates["geometry"].to_numpy())
        lons.append(xy[:, 0])
        lats.append(xy[:, 1])
    extent = maps.Extent.around(
        np.concatenate(lons),
        np.concatenate(lats),
        aspect=style.width_px / style.height_px,
        min_span_km=config.min_map_span_km,
    )
    box = shapely.box(extent.lon_min, extent.lat_min, extent.lon_max, extent.lat_max)
    gates = (
        page.gates[shapely.intersects(page.gates["geometry"].to_numpy(), box)]
        if len(page.gates)
        else page.gates
    )
    ports = page.ports[
        page.ports["lon"].between(extent.lon_min, extent.lon_max)
        & page.ports["lat"].between(extent.lat_min, extent.lat_max)
    ]
    events = pd.DataFrame(
        {
            "ts": [event["ts"]],
            "lat": [event["lat"]],
            "lon": [event["lon"]],
            "label": [f"{event['label']} {_fmt(event['ts'])}"],
        }
    )
    layers = maps.MapLayers(
        track=track, gates=gates, ports=ports, events=events, land=land_for(extent)
    )
    svg = maps.render_map_svg(extent, layers, style, map_id=f"map-{index}")
    what = {
        "departure": "Departure",
        "crossing": f"Passage of {page.chokepoint_names.get(event['chokepoint_id'], '')}",
        "arrival": "Arrival",
    }.get(event["kind"], event["kind"])
    match = page.matches[page.matches["mmsi"] == event["mmsi"]]
    name = (
        match["vessel_name"].iloc[0]
        if len(match) and not _missing(match["vessel_name"].iloc[0])
        else ""
    )
    caption = (
        f"Track of {name or 'MMSI'} {int(event['mmsi'])} from "
        f"{_fmt(event['ts'] - pd.Timedelta(hours=config.track_before_h))} to "
        f"{_fmt(event['ts'] + pd.Timedelta(hours=config.track_after_h))}: {len(track)} AIS fixes."
    )
    return (
        f"<h3>{escape(what)}: {escape(str(event['label']))}, {escape(_fmt(event['ts']))}</h3>"
        f'<figure data-event-kind="{escape(str(event["kind"]))}">{svg}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _land_rings(extent: maps.Extent) -> list[np.ndarray]:
    window = land.read_land_window(extent.lon_min, extent.lon_max, extent.lat_min, extent.lat_max)
    return land.land_rings(window)


def _package_version() -> str:
    try:
        return version("straitwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "(development)"


def write_report(
    conn: psycopg.Connection, report_id: str, out: Path, config: ReportConfig = ReportConfig()
) -> Path:
    """Write the evidence page of `report_id` to `out` (an .html file). Returns the path."""
    page = load_evidence(conn, report_id, config)
    html = render_page(page, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
