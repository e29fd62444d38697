"""Verdicts on claims: which vessel, and what AIS events say of each claimed part.

For every report: candidates from identity (identity.resolve_candidates), then one check per
claimed part, each with a status from the verdict vocabulary:
- departure: a port call at the claimed port (or a port of its group: Baltiysk for Kaliningrad)
  that ends inside the claimed window -> confirmed; ends within `date_search_days` outside it ->
  date_mismatch (delta to the nearest edge of the window); still in port, or positions in the
  window and no such call -> contradicted; no positions in the window -> no_ais_coverage.
- passage: a crossing of the claimed chokepoint, after the departure, in the claimed or implied
  direction: on the claimed UTC day -> confirmed; within `date_search_days` of it ->
  date_mismatch (delta to the nearest edge of the day); only the other direction, or positions
  around the day and no crossing -> contradicted; no positions -> no_ais_coverage.
- destination: a later port call at the claimed port (or its group) within
  `destination_horizon_days`, or an AIS destination text naming it -> confirmed; positions that
  go on to the end of the horizon without it -> contradicted; AIS that ends earlier ->
  no_ais_coverage.
"Coverage" of a part is at least one position of the vessel in the part's window widened by
`coverage_margin_h` on both sides (for the destination: up to the end of the horizon).
The overall verdict is the first of contradicted, date_mismatch, confirmed, no_ais_coverage that
a part has. Identity comes first: no candidate -> vessel_not_found; several candidates that
neither AIS support (parts confirmed or date_mismatch), ship type nor flag separate -> ambiguous.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from pipeline.db import read_frame
from pipeline.reports.destinations import parse_destination
from pipeline.reports.gazetteer import Gazetteer, load_gazetteer
from pipeline.reports.identity import (
    IDENTITY_COLUMNS,
    ClaimedVessel,
    IdentityConfig,
    describe_ship_type,
    name_relation,
    resolve_candidates,
    ship_kind,
    type_fit,
)
from pipeline.reports.routes import implied_direction
from pipeline.vessels import imo_is_valid, normalise_imo

EVIDENCE_VERSION = 1
VERDICT_ORDER = ("contradicted", "date_mismatch", "confirmed", "no_ais_coverage")
SUPPORTING = ("confirmed", "date_mismatch")
CHECK_KEYS = (
    "part",
    "status",
    "summary",
    "claimed_port_id",
    "port_id",
    "chokepoint_id",
    "expected_direction",
    "direction_basis",
    "direction",
    "event",
    "event_at",
    "claimed_from",
    "claimed_to",
    "claimed_date",
    "window_basis",
    "delta_s",
    "delta_days",
    "inferred",
    "crossing_id",
    "port_call_id",
    "gap_id",
    "ais_destination",
    "ais_destination_at",
    "positions_in_window",
    "coverage_from",
    "coverage_to",
    "first_fix_at",
    "last_fix_at",
    "nearest_nm",
    "nearest_at",
)
MATCH_COLUMNS = ["report_id", "mmsi", "verdict", "evidence", "departure_delta", "crossing_delta"]


@dataclass(frozen=True)
class MatchConfig:
    coverage_margin_h: float = 24.0  # positions this close to a part's window count as coverage
    departure_lookback_days: float = 45.0  # window start when the claim gives none
    date_search_days: float = 21.0  # how far outside a claimed window an event is a date_mismatch
    destination_horizon_days: float = 60.0  # how long after the claim an arrival still counts
    inside_chokepoint_nm: float = 10.0  # closer than this to its reference point: "in" it
    identity: IdentityConfig = field(default_factory=IdentityConfig)


# ----------------------------------------------------------------------------- claim windows

Window = tuple[pd.Timestamp | None, pd.Timestamp | None]


def _ts(value: object) -> pd.Timestamp | None:
    """A UTC timestamp from a date, datetime, text or pandas value; None when missing.

    pd.NaT is a datetime subclass, so it must be caught before the isinstance tests: a frame
    holding several claims gives NaT (not None) where one claim states no time.
    """
    if value is None or value is pd.NaT:
        return None
    if not isinstance(value, str | date | datetime) and pd.isna(value):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return pd.Timestamp(datetime(value.year, value.month, value.day, tzinfo=UTC))
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class ClaimWindows:
    departure: Window
    departure_basis: str  # stated, partly stated, implied
    passage: Window
    passage_basis: str  # stated (the claimed day) or implied
    destination: Window
    identity: Window

    @property
    def search(self) -> Window:
        times = [t for w in (self.departure, self.passage, self.destination) for t in w if t]
        return (min(times), max(times)) if times else (None, None)


def claim_windows(claim: pd.Series, config: MatchConfig = MatchConfig()) -> ClaimWindows:
    """The time windows each part of a claim is checked in (see the module docstring)."""
    day = timedelta(days=1)
    published = _ts(claim.get("published_at"))
    pub_end = published.normalize() + day if published is not None else None
    via_lo = _ts(claim.get("via_date"))
    via_hi = via_lo + day if via_lo is not None else None
    after, before = _ts(claim.get("departed_after")), _ts(claim.get("departed_before"))
    dep_hi = before or via_hi or pub_end
    dep_lo = after or (dep_hi - timedelta(days=config.departure_lookback_days) if dep_hi else None)
    dep_basis = (
        "stated" if after and before else ("partly stated" if after or before else "implied")
    )
    if via_lo is not None:
        passage, passage_basis = (via_lo, via_hi), "stated"
    else:
        passage, passage_basis = (
            (after or dep_lo, pub_end or (dep_hi + day if dep_hi else None)),
            "implied",
        )
    latest = max([t for t in (pub_end, via_hi, before, after) if t is not None], default=None)
    dest_lo = dep_lo or passage[0]
    dest_hi = latest + timedelta(days=config.destination_horizon_days) if latest else None
    stated = [t for t in (after, before, via_lo, published) if t is not None]
    ident = (
        (min(stated), max([t for t in (pub_end, via_hi, before) if t] or stated))
        if stated
        else (None, None)
    )
    return ClaimWindows(
        (dep_lo, dep_hi), dep_basis, passage, passage_basis, (dest_lo, dest_hi), ident
    )


# ----------------------------------------------------------------------------- words


def fmt_time(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None or pd.isna(ts) else ts.strftime("%Y-%m-%d %H:%M UTC")


def fmt_iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None or pd.isna(ts) else ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_day(d: date | pd.Timestamp) -> str:
    return f"{d:%A} {d:%Y-%m-%d}"


def duration_words(seconds: float) -> str:
    s = abs(round(seconds))
    days, rem = divmod(s, 86_400)
    hours, rem = divmod(rem, 3_600)
    minutes = rem // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


def _offset(t: pd.Timestamp, window: Window) -> float:
    """Seconds from a window to t: 0 inside, negative before it, positive after it."""
    lo, hi = window
    if lo is not None and t < lo:
        return (t - lo).total_seconds()
    if hi is not None and t >= hi:
        return (t - hi).total_seconds()
    return 0.0


def _days_outside(t: pd.Timestamp, window: Window, delta: float) -> int:
    """Calendar days (UTC) from the window's nearer edge to t; 0 inside the window."""
    edge = window[0] if delta < 0 else window[1] if delta > 0 else None
    if edge is None:
        return 0
    return (t.normalize() - edge.normalize()).days


def _in(t: pd.Series, window: Window, widen: timedelta = timedelta(0)) -> pd.Series:
    lo, hi = window
    mask = pd.Series(True, index=t.index)
    if lo is not None:
        mask &= t >= lo - widen
    if hi is not None:
        mask &= t < hi + widen
    return mask.fillna(False)


# ----------------------------------------------------------------------------- checks


@dataclass
class Evidence:
    """AIS events of one vessel around one claim (frames as read from the events tables)."""

    port_calls: pd.DataFrame
    crossings: pd.DataFrame
    gaps: pd.DataFrame
    voyage_reports: pd.DataFrame
    coverage: dict[str, dict]  # part -> {n, first_ts, last_ts, nearest_nm, nearest_ts, ...}


def _check(part: str, **values: object) -> dict:
    out = dict.fromkeys(CHECK_KEYS)
    out["part"] = part
    out.update(values)
    return out


def _coverage_fields(cov: dict, window: Window) -> dict:
    nearest = cov.get("nearest_nm")
    return {
        "positions_in_window": int(cov.get("n") or 0),
        "coverage_from": fmt_iso(window[0]),
        "coverage_to": fmt_iso(window[1]),
        "first_fix_at": fmt_iso(_ts(cov.get("first_ts"))),
        "last_fix_at": fmt_iso(_ts(cov.get("last_ts"))),
        # a SQL NULL may come back as NaN through a DataFrame: JSON (and jsonb) have no NaN
        "nearest_nm": None if nearest is None or pd.isna(nearest) else round(float(nearest), 1),
        "nearest_at": fmt_iso(_ts(cov.get("nearest_ts"))),
    }


def _gap_at(gaps: pd.DataFrame, t: pd.Timestamp | None, *, around: Window | None = None):
    """The gap that starts at t (a call ended by going dark), or overlaps `around`."""
    if gaps.empty:
        return None
    if t is not None:
        hit = gaps[(gaps["started_at"] - t).abs() <= pd.Timedelta(minutes=1)]
    else:
        lo, hi = around or (None, None)
        hit = gaps[
            (gaps["ended_at"] > (lo or gaps["started_at"].min()))
            & (gaps["started_at"] < (hi or gaps["ended_at"].max()))
        ]
    return None if hit.empty else hit.iloc[0]


def _gap_words(gap: pd.Series) -> str:
    return f"AIS dark {fmt_time(gap['started_at'])} - {fmt_time(gap['ended_at'])}"


def _widen(window: Window, margin: timedelta) -> Window:
    return (window[0] - margin if window[0] else None, window[1] + margin if window[1] else None)


def _no_coverage(part: str, window: Window, gaps: pd.DataFrame, base: dict) -> dict:
    """A part without positions in its window; names the AIS gap that covers it, if any."""
    gap = _gap_at(gaps, None, around=window)
    return _check(
        part,
        status="no_ais_coverage",
        summary=f"no AIS positions from {fmt_time(window[0])} to {fmt_time(window[1])}"
        + (f" ({_gap_words(gap)})" if gap is not None else ""),
        **base,
        gap_id=None if gap is None else gap["gap_id"],
    )


def check_departure(
    claim: pd.Series, win: ClaimWindows, ev: Evidence, gaz: Gazetteer, config: MatchConfig
) -> dict:
    port = claim["departure_port_id"]
    name = gaz.port_name(port)
    group = gaz.port_group(port)
    window = win.departure
    margin = timedelta(hours=config.coverage_margin_h)
    cov_window = _widen(window, margin)
    base = {
        "claimed_port_id": port,
        "claimed_from": fmt_iso(window[0]),
        "claimed_to": fmt_iso(window[1]),
        "window_basis": win.departure_basis,
        **_coverage_fields(ev.coverage.get("departure", {}), cov_window),
    }
    calls = ev.port_calls[ev.port_calls["port_id"].isin(group)]
    left = calls[calls["departed_at"].notna()]
    inside = left[_in(left["departed_at"], window)]
    search = timedelta(days=config.date_search_days)
    near = left[_in(left["departed_at"], window, search)]
    pick, status = None, None
    if not inside.empty:
        pick, status = inside.sort_values("departed_at").iloc[-1], "confirmed"
    elif not near.empty:
        offsets = near["departed_at"].map(lambda t: abs(_offset(t, window)))
        pick, status = near.loc[offsets.idxmin()], "date_mismatch"
    if pick is not None:
        t = pick["departed_at"]
        delta = _offset(t, window)
        gap = _gap_at(ev.gaps, t) if pick.get("ended_by_gap") else None
        where = name if pick["port_id"] == port else f"{gaz.port_name(pick['port_id'])} ({name})"
        words = f"left {where} {fmt_time(t)}"
        if gap is not None:
            words += f" going dark ({_gap_words(gap)})"
        if status == "confirmed":
            if win.departure_basis != "implied":
                words += ", inside the claimed window"
            else:
                bound = "passage day" if not pd.isna(claim.get("via_date")) else "publication"
                words += f", before the claimed {bound} (no departure time claimed)"
        else:
            edge = window[0] if delta < 0 else window[1]
            words += (
                f", {duration_words(delta)} {'before' if delta < 0 else 'after'} the claimed "
                f"window ({'from' if delta < 0 else 'until'} {fmt_time(edge)})"
            )
        return _check(
            "departure",
            status=status,
            summary=words,
            **base,
            port_id=pick["port_id"],
            event="port_call_departure",
            event_at=fmt_iso(t),
            port_call_id=pick["port_call_id"],
            gap_id=None if gap is None else gap["gap_id"],
            inferred=gap is not None,
            delta_s=round(delta),
            delta_days=_days_outside(t, window, delta),
        )
    staying = calls[calls["departed_at"].isna() & _in(calls["arrived_at"], (None, window[1]))]
    n = base["positions_in_window"]
    if not staying.empty and n:
        stay = staying.iloc[-1]
        return _check(
            "departure",
            status="contradicted",
            summary=f"still at {name} (arrived {fmt_time(stay['arrived_at'])}, no departure "
            f"seen) at the end of the claimed window",
            **base,
            port_id=stay["port_id"],
            event="port_call_open",
            event_at=fmt_iso(stay["arrived_at"]),
            port_call_id=stay["port_call_id"],
        )
    if n:
        where = (
            f"; closest {base['nearest_nm']:,.0f} nm from {name}"
            if base["nearest_nm"] is not None
            else ""
        )
        return _check(
            "departure",
            status="contradicted",
            summary=f"no call at {name} ending in the claimed window; {n} AIS positions in it"
            + where,
            **base,
        )
    return _no_coverage("departure", cov_window, ev.gaps, base)


def check_passage(
    claim: pd.Series,
    win: ClaimWindows,
    ev: Evidence,
    gaz: Gazetteer,
    config: MatchConfig,
    after: pd.Timestamp | None,
) -> dict:
    cp = claim["via_chokepoint_id"]
    name = gaz.chokepoint_name(cp)
    expected = claim.get("via_direction")
    basis = claim.get("via_direction_basis")
    if not isinstance(expected, str):
        implied = implied_direction(
            gaz, cp, _str(claim.get("departure_port_id")), _str(claim.get("destination_port_id"))
        )
        expected, basis = implied.direction, ("route" if implied.direction else None)
    window = win.passage
    margin = timedelta(hours=config.coverage_margin_h)
    cov_window = _widen(window, margin)
    claimed_day = _ts(claim.get("via_date"))
    base = {
        "chokepoint_id": cp,
        "expected_direction": expected,
        "direction_basis": basis,
        "claimed_date": claimed_day.strftime("%Y-%m-%d") if claimed_day is not None else None,
        "claimed_from": fmt_iso(window[0]),
        "claimed_to": fmt_iso(window[1]),
        "window_basis": win.passage_basis,
        **_coverage_fields(ev.coverage.get("passage", {}), cov_window),
    }
    crossings = ev.crossings[ev.crossings["chokepoint_id"] == cp]
    if after is not None:
        crossings = crossings[crossings["crossed_at"] > after]
    right = crossings if not expected else crossings[crossings["direction"] == expected]
    wrong = crossings.drop(right.index)
    search = timedelta(days=config.date_search_days)
    on_day = right[_in(right["crossed_at"], window)]
    near = right[_in(right["crossed_at"], window, search)]
    pick, status = None, None
    if not on_day.empty:
        pick, status = on_day.sort_values("crossed_at").iloc[0], "confirmed"
    elif not near.empty:
        offsets = near["crossed_at"].map(lambda t: abs(_offset(t, window)))
        pick, status = near.loc[offsets.idxmin()], "date_mismatch"
    if pick is not None:
        t = pick["crossed_at"]
        delta = _offset(t, window)
        dark = bool(pick.get("inferred"))
        words = f"passed {name} {pick['direction']} {fmt_time(t)}"
        if dark:
            gap_words = ""
            gap = ev.gaps[ev.gaps["gap_id"] == pick.get("gap_id")]
            if not gap.empty:
                gap_words = f"; {_gap_words(gap.iloc[0])}"
            words += f" (inferred: crossed while AIS was dark{gap_words})"
        days = 0
        if claimed_day is not None:
            days = (t.normalize() - claimed_day).days
            if status == "confirmed":
                words += f", on the claimed {fmt_day(claimed_day)}"
            else:
                words += (
                    f", {abs(days)} day{'s' if abs(days) != 1 else ''} "
                    f"{'before' if days < 0 else 'after'} the claimed {fmt_day(claimed_day)}"
                )
        elif status == "date_mismatch":
            words += (
                f", {duration_words(delta)} {'before' if delta < 0 else 'after'} the claimed window"
            )
        return _check(
            "passage",
            status=status,
            summary=words,
            **base,
            direction=pick["direction"],
            event="crossing",
            event_at=fmt_iso(t),
            crossing_id=pick["crossing_id"],
            gap_id=_str(pick.get("gap_id")),
            inferred=dark,
            delta_s=round(delta),
            delta_days=days,
        )
    wrong_near = wrong[_in(wrong["crossed_at"], window, search)]
    if not wrong_near.empty:
        w = wrong_near.iloc[0]
        return _check(
            "passage",
            status="contradicted",
            summary=f"passed {name} {w['direction']} {fmt_time(w['crossed_at'])}, not "
            f"{expected} as the claimed route implies",
            **base,
            direction=w["direction"],
            event="crossing",
            event_at=fmt_iso(w["crossed_at"]),
            crossing_id=w["crossing_id"],
            inferred=bool(w.get("inferred")),
            delta_s=round(_offset(w["crossed_at"], window)),
        )
    n = base["positions_in_window"]
    gap = _gap_at(ev.gaps, None, around=cov_window)
    if n:
        near = base["nearest_nm"]
        if near is None:
            where = ""
        elif near < config.inside_chokepoint_nm:  # e.g. a port call inside the strait
            where = (
                f"; AIS has it {near:,.1f} nm from {name}'s reference point at "
                f"{fmt_time(_ts(base['nearest_at']))}, but it did not pass through"
            )
        else:
            where = f"; AIS keeps it {near:,.0f} nm or more from {name}"
        return _check(
            "passage",
            status="contradicted",
            summary=f"no passage of {name} within {config.date_search_days:g} days of the "
            f"claim; {n} AIS positions around the claimed day{where}",
            **base,
            gap_id=None if gap is None else gap["gap_id"],
        )
    return _no_coverage("passage", cov_window, ev.gaps, base)


def check_destination(
    claim: pd.Series,
    win: ClaimWindows,
    ev: Evidence,
    gaz: Gazetteer,
    config: MatchConfig,
    after: pd.Timestamp | None,
    after_what: str = "",
) -> dict:
    port = claim["destination_port_id"]
    name = gaz.port_name(port)
    group = gaz.port_group(port)
    lo = after or win.destination[0]
    window = (lo, win.destination[1])
    margin = timedelta(hours=config.coverage_margin_h)
    base = {
        "claimed_port_id": port,
        "claimed_from": fmt_iso(window[0]),
        "claimed_to": fmt_iso(window[1]),
        "window_basis": "implied",
        **_coverage_fields(ev.coverage.get("destination", {}), window),
    }
    calls = ev.port_calls[ev.port_calls["port_id"].isin(group)]
    arrivals = calls[_in(calls["arrived_at"], window)].sort_values("arrived_at")
    announced = _announced(ev.voyage_reports, group, window, gaz)
    if not arrivals.empty:
        a = arrivals.iloc[0]
        where = (
            name if a["port_id"] == port else (f"{gaz.port_name(a['port_id'])}, the port of {name}")
        )
        words = f"arrived at {where} {fmt_time(a['arrived_at'])}"
        if after is not None:
            words += (
                f", {duration_words((a['arrived_at'] - after).total_seconds())} after {after_what}"
            )
        return _check(
            "destination",
            status="confirmed",
            summary=words,
            **base,
            port_id=a["port_id"],
            event="port_call_arrival",
            event_at=fmt_iso(a["arrived_at"]),
            port_call_id=a["port_call_id"],
            ais_destination=None if announced is None else announced["destination"],
            ais_destination_at=None if announced is None else fmt_iso(announced["reported_at"]),
        )
    if announced is not None:
        return _check(
            "destination",
            status="confirmed",
            summary=f"AIS destination {announced['destination']!r} (= {name}) broadcast from "
            f"{fmt_time(announced['reported_at'])}; no arrival seen yet",
            **base,
            port_id=announced["port_id"],
            event="ais_destination",
            event_at=fmt_iso(announced["reported_at"]),
            ais_destination=announced["destination"],
            ais_destination_at=fmt_iso(announced["reported_at"]),
        )
    cov = ev.coverage.get("destination", {})
    last = _ts(cov.get("last_ts"))
    others = ev.port_calls[_in(ev.port_calls["arrived_at"], window)]
    elsewhere = ", ".join(
        f"{gaz.port_name(p)} {fmt_time(t)}"
        for p, t in zip(others["port_id"], others["arrived_at"], strict=True)
    )
    if last is not None and window[1] is not None and last >= window[1] - margin:
        return _check(
            "destination",
            status="contradicted",
            summary=f"no call at {name} within {config.destination_horizon_days:g} days though AIS "
            f"covers them" + (f"; called at {elsewhere}" if elsewhere else ""),
            **base,
        )
    if last is not None:
        words = f"AIS ends {fmt_time(last)}"
        if base["nearest_nm"] is not None:
            words += f", {base['nearest_nm']:,.0f} nm from {name} at the closest"
        words += "; no arrival seen" + (f" (called at {elsewhere})" if elsewhere else "")
    else:
        words = f"no AIS positions after {fmt_time(window[0])}"
    return _check("destination", status="no_ais_coverage", summary=words, **base)


def _announced(
    reports: pd.DataFrame, group: frozenset[str], window: Window, gaz: Gazetteer
) -> pd.Series | None:
    """The first AIS destination naming the port group, in force during the window."""
    if reports.empty:
        return None
    reports = reports.sort_values("reported_at")
    lo = window[0]
    # the destination in force at the start of the window was broadcast before it
    before = reports[reports["reported_at"] <= lo].tail(1) if lo is not None else reports.head(0)
    during = reports[_in(reports["reported_at"], window)]
    rows = pd.concat([before, during])
    for _, r in rows.iterrows():
        parsed = parse_destination(r["destination"], gaz)
        if parsed.port_id in group:
            return pd.Series({**r.to_dict(), "port_id": parsed.port_id})
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def overall_verdict(statuses: list[str]) -> str:
    for verdict in VERDICT_ORDER:
        if verdict in statuses:
            return verdict
    return "no_ais_coverage"


def evaluate(
    claim: pd.Series, win: ClaimWindows, ev: Evidence, gaz: Gazetteer, config: MatchConfig
) -> list[dict]:
    """One check per claimed part, in voyage order; later parts start after earlier events."""
    checks: list[dict] = []
    after: pd.Timestamp | None = None
    after_what = ""
    if _str(claim.get("departure_port_id")):
        dep = check_departure(claim, win, ev, gaz, config)
        checks.append(dep)
        if dep["status"] in SUPPORTING:
            after = _ts(dep["event_at"])
            after_what = f"leaving {gaz.port_name(dep['port_id'])}"
    if _str(claim.get("via_chokepoint_id")):
        passage = check_passage(claim, win, ev, gaz, config, after)
        checks.append(passage)
        if passage["status"] in SUPPORTING:
            after = _ts(passage["event_at"])
            after_what = f"the {gaz.chokepoint_name(passage['chokepoint_id'])} passage"
    if _str(claim.get("destination_port_id")):
        checks.append(check_destination(claim, win, ev, gaz, config, after, after_what))
    return checks


# ----------------------------------------------------------------------------- one report


def _vessel_json(c: pd.Series) -> dict:
    return {
        "mmsi": int(c["mmsi"]),
        "name": _str(c.get("name")),
        "imo": _str(c.get("imo")),
        "ship_type": None if pd.isna(c.get("ship_type")) else int(c["ship_type"]),
        "ship_kind": ship_kind(c.get("ship_type")),
        "flag": None if pd.isna(c.get("flag")) else str(c["flag"]),
        "matched_by": c.get("matched_by"),
        "name_score": None if pd.isna(c.get("name_score")) else round(float(c["name_score"]), 1),
        "name_valid_from": fmt_iso(_ts(c.get("valid_from"))),
        "name_valid_to": fmt_iso(_ts(c.get("valid_to"))),
    }


def _candidate_json(c: pd.Series, chosen: bool, reason: str) -> dict:
    v = _vessel_json(c)
    return {k: v[k] for k in ("mmsi", "name", "imo", "ship_type", "flag")} | {
        "chosen": chosen,
        "reason": reason,
    }


def judge_report(
    claim: pd.Series,
    candidates: pd.DataFrame,
    near_misses: list[dict],
    evidence_of: dict[int, Evidence],
    gaz: Gazetteer,
    config: MatchConfig = MatchConfig(),
) -> list[dict]:
    """departure_matches rows (MATCH_COLUMNS) for one report; pure."""
    win = claim_windows(claim, config)
    report_id = claim["report_id"]
    claimed = {
        "vessel_name": _str(claim.get("vessel_name")),
        "imo": _str(claim.get("imo")),
        "imo_check": None
        if not _str(claim.get("imo"))
        else ("valid" if imo_is_valid(claim["imo"]) else "invalid: ignored"),
        "mmsi": None if pd.isna(claim.get("mmsi")) else int(claim["mmsi"]),
        "vessel_kind": _str(claim.get("vessel_kind")),
        "vessel_flag": _str(claim.get("vessel_flag")),
        "name_window_from": fmt_iso(win.identity[0]),
        "name_window_to": fmt_iso(win.identity[1]),
    }
    set_aside = list(near_misses)
    kind = _str(claim.get("vessel_kind"))
    if kind and not candidates.empty:
        fits = candidates["ship_type"].map(lambda t: type_fit(kind, t))
        for _, c in candidates[fits == "conflicts"].iterrows():
            set_aside.append(
                _candidate_json(
                    c,
                    False,
                    f"{describe_ship_type(c['ship_type'])}: the report describes {kind} ships",
                )
            )
        candidates = candidates[fits != "conflicts"]

    def row(mmsi, verdict, checks, candidates_json, vessel, rule) -> dict:
        by_part = {c["part"]: c for c in checks}
        summary = "; ".join(c["summary"] for c in checks)
        evidence = {
            "version": EVIDENCE_VERSION,
            "verdict": verdict,
            "rule": rule,
            "claim": claimed,
            "vessel": vessel,
            "checks": checks,
            "candidates": candidates_json,
            "summary": summary,
        }
        dep, pas = by_part.get("departure", {}), by_part.get("passage", {})
        return {
            "report_id": report_id,
            "mmsi": mmsi,
            "verdict": verdict,
            "evidence": evidence,
            "departure_delta": _delta(dep),
            "crossing_delta": _delta(pas),
        }

    if candidates.empty:
        return [
            row(
                None,
                "vessel_not_found",
                [],
                set_aside,
                None,
                "no vessel in vessel_identity has "
                + " or ".join(
                    ["the claimed name at the claimed time"]
                    + ([f"IMO {claimed['imo']}"] if claimed["imo"] else [])
                    + ([f"MMSI {claimed['mmsi']}"] if claimed["mmsi"] else [])
                ),
            )
        ]
    # candidate, its checks, and what separates candidates: (AIS support, type fit, flag)
    results: list[tuple[pd.Series, list[dict], tuple[int, int, int]]] = []
    for _, c in candidates.iterrows():
        checks = evaluate(claim, win, evidence_of[int(c["mmsi"])], gaz, config)
        support = sum(ch["status"] in SUPPORTING for ch in checks)
        fit = {"fits": 2, "unknown": 1, "conflicts": 0}[type_fit(kind, c["ship_type"])]
        flag_ok = int(bool(claimed["vessel_flag"]) and c.get("flag") == claimed["vessel_flag"])
        results.append((c, checks, (support, fit, flag_ok)))
    pool = results
    reasons: dict[int, str] = {}
    for key, words in (
        (0, "fewer claimed parts supported by AIS"),
        (1, "ship type fits the claim less well"),
        (2, "flag differs from the claimed one"),
    ):
        best = max(r[2][key] for r in pool)
        for r in pool:
            if r[2][key] < best:
                reasons[int(r[0]["mmsi"])] = words
        pool = [r for r in pool if r[2][key] == best]
        if len(pool) == 1:
            break
    in_pool = {int(r[0]["mmsi"]) for r in pool}
    others = [
        _candidate_json(r[0], False, reasons.get(int(r[0]["mmsi"]), "tied"))
        for r in results
        if int(r[0]["mmsi"]) not in in_pool
    ]
    if len(pool) > 1:
        tied = [_candidate_json(r[0], True, "tied: nothing separates it") for r in pool]
        rule = (
            f"{len(pool)} vessels fit the claim and neither AIS support, ship type nor flag "
            "separates them"
        )
        return [
            row(
                int(c["mmsi"]),
                "ambiguous",
                checks,
                tied + others + set_aside,
                _vessel_json(c),
                rule,
            )
            for c, checks, *_ in pool
        ]
    c, checks, *_ = pool[0]
    verdict = overall_verdict([ch["status"] for ch in checks])
    reason = f"matched by {c['matched_by']}" + (
        f"; {len(results) - 1} other candidate(s) set aside" if len(results) > 1 else ""
    )
    rule = (
        "first of contradicted, date_mismatch, confirmed, no_ais_coverage among the parts: "
        + ", ".join(f"{ch['part']} {ch['status']}" for ch in checks)
    )
    return [
        row(
            int(c["mmsi"]),
            verdict,
            checks,
            [_candidate_json(c, True, reason), *others, *set_aside],
            _vessel_json(c),
            rule,
        )
    ]


def _delta(check: dict) -> timedelta | None:
    if check.get("status") in SUPPORTING and check.get("delta_s") is not None:
        return timedelta(seconds=int(check["delta_s"]))
    return None


# ----------------------------------------------------------------------------- I/O

_CLAIMS_SQL = "SELECT * FROM straitwatch.reported_departures {where} ORDER BY report_id"


def _identity_rows(conn: psycopg.Connection, claims: pd.DataFrame, config: MatchConfig):
    """vessel_identity rows of every MMSI any claim may name (by name, IMO or MMSI)."""
    names = read_frame(
        conn, "SELECT DISTINCT name FROM straitwatch.vessel_identity WHERE name IS NOT NULL"
    )
    wanted: set[str] = set()
    if not names.empty:
        for claimed in claims["vessel_name"].dropna().unique():
            rel = name_relation(claimed, names["name"], config.identity)
            wanted |= set(names.loc[rel["relation"] != "none", "name"])
    imos = [i for i in (normalise_imo(v) for v in claims["imo"].dropna()) if i]
    mmsis = [int(m) for m in claims["mmsi"].dropna()]
    cols = ", ".join(IDENTITY_COLUMNS)
    return read_frame(
        conn,
        f"""SELECT {cols} FROM straitwatch.vessel_identity WHERE mmsi IN (
                SELECT mmsi FROM straitwatch.vessel_identity
                WHERE name = ANY(%(names)s) OR (imo = ANY(%(imos)s) AND imo_valid)
                   OR mmsi = ANY(%(mmsis)s))
            ORDER BY mmsi, valid_from""",
        {"names": sorted(wanted), "imos": imos, "mmsis": mmsis},
    )


def _positions_only(conn: psycopg.Connection, mmsis: list[int]) -> pd.DataFrame:
    """Identity-less vessels a claim names by MMSI: one synthetic period if they have positions."""
    if not mmsis:
        return pd.DataFrame(columns=IDENTITY_COLUMNS)
    return read_frame(
        conn,
        """SELECT NULL::bigint AS identity_id, m AS mmsi, NULL::text AS imo,
                  NULL::boolean AS imo_valid, NULL::text AS name, NULL::text AS callsign,
                  NULL::smallint AS ship_type,
                  NULL::text AS flag, '-infinity'::timestamptz AS valid_from,
                  NULL::timestamptz AS valid_to
           FROM unnest(%s::int[]) AS m
           WHERE NOT EXISTS (SELECT 1 FROM straitwatch.vessel_identity v WHERE v.mmsi = m)
             AND EXISTS (SELECT 1 FROM straitwatch.positions p WHERE p.mmsi = m)""",
        (mmsis,),
    )


def _events(conn: psycopg.Connection, mmsis: list[int], lo, hi) -> dict[str, pd.DataFrame]:
    params = {"mmsis": mmsis, "lo": lo, "hi": hi}
    frames = {
        "port_calls": read_frame(
            conn,
            """SELECT port_call_id, mmsi, port_id, arrived_at, departed_at, ended_by_gap
               FROM straitwatch.port_calls WHERE mmsi = ANY(%(mmsis)s)
                 AND arrived_at < %(hi)s AND (departed_at IS NULL OR departed_at >= %(lo)s)""",
            params,
        ),
        "crossings": read_frame(
            conn,
            """SELECT crossing_id, mmsi, chokepoint_id, crossed_at, direction, inferred, gap_id
               FROM straitwatch.chokepoint_crossings WHERE mmsi = ANY(%(mmsis)s)
                 AND crossed_at >= %(lo)s AND crossed_at < %(hi)s""",
            params,
        ),
        "gaps": read_frame(
            conn,
            """SELECT gap_id, mmsi, started_at, ended_at, distance_nm, implied_speed_kn
               FROM straitwatch.ais_gaps WHERE mmsi = ANY(%(mmsis)s)
                 AND ended_at > %(lo)s AND started_at < %(hi)s""",
            params,
        ),
        "voyage_reports": read_frame(
            conn,
            """SELECT mmsi, reported_at, destination FROM straitwatch.voyage_reports
               WHERE mmsi = ANY(%(mmsis)s) AND reported_at < %(hi)s
                 AND reported_at >= %(lo)s - interval '60 days'""",
            params,
        ),
    }
    for frame in frames.values():
        for col in (
            "arrived_at",
            "departed_at",
            "crossed_at",
            "started_at",
            "ended_at",
            "reported_at",
        ):
            if col in frame.columns:
                frame[col] = pd.to_datetime(frame[col], utc=True)
    return frames


_COVERAGE_SQL = """
SELECT w.key, c.n, c.first_ts, c.last_ts, near.ts AS nearest_ts, near.dist_nm AS nearest_nm
FROM unnest(%s::text[], %s::int[], %s::timestamptz[], %s::timestamptz[],
            %s::float8[], %s::float8[]) AS w(key, mmsi, lo, hi, ref_lat, ref_lon)
LEFT JOIN LATERAL (
    SELECT count(*) AS n, min(p.ts) AS first_ts, max(p.ts) AS last_ts
    FROM straitwatch.positions p
    WHERE p.mmsi = w.mmsi AND p.ts >= w.lo AND p.ts < w.hi
) c ON true
LEFT JOIN LATERAL (
    SELECT p.ts, 2 * 3440.065 * asin(sqrt(
               power(sin(radians(p.lat - w.ref_lat) / 2), 2)
               + cos(radians(w.ref_lat)) * cos(radians(p.lat))
                 * power(sin(radians(p.lon - w.ref_lon) / 2), 2))) AS dist_nm
    FROM straitwatch.positions p
    WHERE p.mmsi = w.mmsi AND p.ts >= w.lo AND p.ts < w.hi AND w.ref_lat IS NOT NULL
    ORDER BY dist_nm LIMIT 1
) near ON true
"""


def _reference_point(gaz: Gazetteer, part: str, claim: pd.Series) -> tuple[float, float] | None:
    if part in ("departure", "destination"):
        row = gaz.port_row(claim[f"{part}_port_id"])
        return None if row is None else (float(row["lat"]), float(row["lon"]))
    row = gaz.chokepoint_row(claim["via_chokepoint_id"])
    if row is not None and not pd.isna(row["ref_lat"]):
        return float(row["ref_lat"]), float(row["ref_lon"])
    return None


def _coverage_windows(claim: pd.Series, win: ClaimWindows, config: MatchConfig):
    margin = timedelta(hours=config.coverage_margin_h)
    far_past, far_future = (
        pd.Timestamp("1900-01-01", tz="UTC"),
        pd.Timestamp("2200-01-01", tz="UTC"),
    )
    out = {}
    if _str(claim.get("departure_port_id")):
        out["departure"] = win.departure
    if _str(claim.get("via_chokepoint_id")):
        out["passage"] = win.passage
    for part, (lo, hi) in out.items():
        out[part] = ((lo - margin) if lo else far_past, (hi + margin) if hi else far_future)
    if _str(claim.get("destination_port_id")):
        lo, hi = win.destination
        out["destination"] = (lo or far_past, hi or far_future)
    return out


def match_reports(
    conn: psycopg.Connection,
    report_ids: list[str] | None = None,
    config: MatchConfig = MatchConfig(),
) -> pd.DataFrame:
    """Verdicts for reports (all when report_ids is None) -> departure_matches, and returned.

    Replaces the departure_matches rows of the reports it matched, so a rerun writes the same
    rows. Atomic: commits unless the caller has a transaction open.
    """
    where = "WHERE report_id = ANY(%s)" if report_ids is not None else ""
    claims = read_frame(
        conn,
        _CLAIMS_SQL.format(where=where),
        (list(report_ids),) if report_ids is not None else None,
    )
    if claims.empty:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    gaz = load_gazetteer(conn)
    identities = _identity_rows(conn, claims, config)
    claimed_mmsis = [int(m) for m in claims["mmsi"].dropna()]
    identities = (
        pd.concat([identities, _positions_only(conn, claimed_mmsis)], ignore_index=True)
        if claimed_mmsis
        else identities
    )
    resolved = {}
    for _, claim in claims.iterrows():
        win = claim_windows(claim, config)
        vessel = ClaimedVessel(
            name=_str(claim.get("vessel_name")),
            imo=_str(claim.get("imo")),
            mmsi=None if pd.isna(claim.get("mmsi")) else int(claim["mmsi"]),
            kind=_str(claim.get("vessel_kind")),
            flag=_str(claim.get("vessel_flag")),
            window_start=win.identity[0],
            window_end=win.identity[1],
        )
        resolved[claim["report_id"]] = (
            win,
            *resolve_candidates(vessel, identities, config.identity),
        )

    # one read of each events table and one coverage query for every (candidate, part)
    keys, mm, los, his, lats, lons = [], [], [], [], [], []
    all_mmsis: set[int] = set()
    span_lo, span_hi = [], []
    search = timedelta(days=config.date_search_days + config.coverage_margin_h / 24)
    for _, claim in claims.iterrows():
        win, cands, _ = resolved[claim["report_id"]]
        lo, hi = win.search
        if lo is not None:
            span_lo.append(lo - search)
        if hi is not None:
            span_hi.append(hi + search)
        for mmsi in cands["mmsi"].astype(int):
            all_mmsis.add(mmsi)
            for part, (wlo, whi) in _coverage_windows(claim, win, config).items():
                ref = _reference_point(gaz, part, claim)
                keys.append(f"{claim['report_id']}\x1f{mmsi}\x1f{part}")
                mm.append(mmsi)
                los.append(wlo)
                his.append(whi)
                lats.append(ref[0] if ref else None)
                lons.append(ref[1] if ref else None)
    far = (pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))
    events = _events(
        conn, sorted(all_mmsis), min(span_lo, default=far[0]), max(span_hi, default=far[1])
    )
    coverage = read_frame(conn, _COVERAGE_SQL, (keys, mm, los, his, lats, lons)) if keys else None
    cov: dict[tuple[str, int, str], dict] = {}
    if coverage is not None:
        for rec in coverage.to_dict("records"):
            rid, mmsi, part = rec["key"].split("\x1f")
            cov[(rid, int(mmsi), part)] = rec

    rows: list[dict] = []
    for _, claim in claims.iterrows():
        win, cands, near = resolved[claim["report_id"]]
        lo, hi = win.search
        evidence_of = {}
        for mmsi in cands["mmsi"].astype(int):
            evidence_of[mmsi] = Evidence(
                **{name: f[f["mmsi"] == mmsi] for name, f in events.items()},
                coverage={
                    part: rec
                    for (rid, m, part), rec in cov.items()
                    if rid == claim["report_id"] and m == mmsi
                },
            )
        rows.extend(judge_report(claim, cands, near, evidence_of, gaz, config))
    result = pd.DataFrame(rows, columns=MATCH_COLUMNS)
    result["mmsi"] = result["mmsi"].astype("Int64")
    _write(conn, claims["report_id"].tolist(), result)
    return result


def _write(conn: psycopg.Connection, report_ids: list[str], matches: pd.DataFrame) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "DELETE FROM straitwatch.departure_matches WHERE report_id = ANY(%s)", (report_ids,)
        )
        cur.executemany(
            """INSERT INTO straitwatch.departure_matches
                   (report_id, mmsi, verdict, evidence, departure_delta, crossing_delta)
               VALUES (%s, %s, %s, %s::jsonb, %s, %s)""",
            [
                (
                    r["report_id"],
                    None if pd.isna(r["mmsi"]) else int(r["mmsi"]),
                    r["verdict"],
                    json.dumps(r["evidence"], ensure_ascii=False, default=_json_default),
                    None if pd.isna(r["departure_delta"]) else r["departure_delta"],
                    None if pd.isna(r["crossing_delta"]) else r["crossing_delta"],
                )
                for r in matches.to_dict("records")
            ],
        )


def _json_default(value: object) -> object:
    if isinstance(value, pd.Timestamp | datetime):
        return fmt_iso(_ts(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
