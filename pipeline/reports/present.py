"""A readable table of verdicts with their evidence in words (used by `match` and `demo`)."""

from __future__ import annotations

import textwrap

import pandas as pd
import psycopg

from pipeline.db import read_frame
from pipeline.reports.gazetteer import Gazetteer, load_gazetteer
from pipeline.reports.identity import describe_ship_type

_VERDICTS_SQL = """
SELECT r.report_id, r.source, r.vessel_name, r.imo AS claimed_imo, r.departure_port_id,
       r.departed_after, r.departed_before, r.via_chokepoint_id, r.via_date, r.via_date_phrase,
       r.via_direction, r.via_direction_basis, r.destination_port_id, r.published_at,
       m.mmsi, m.verdict, m.evidence
FROM straitwatch.reported_departures r
JOIN straitwatch.departure_matches m USING (report_id)
{where}
ORDER BY r.published_at NULLS LAST, r.report_id, m.mmsi NULLS FIRST
"""


def describe_claim(row: pd.Series, gaz: Gazetteer) -> str:
    """The claim in one line: 'Sparta II: left Tartus (SYTTS); passed Gibraltar westbound ...'."""
    parts = []
    if isinstance(row.get("departure_port_id"), str):
        parts.append(f"left {gaz.port_name(row['departure_port_id'])} ({row['departure_port_id']})")
    if isinstance(row.get("via_chokepoint_id"), str):
        words = f"passed {gaz.chokepoint_name(row['via_chokepoint_id'])}"
        if isinstance(row.get("via_direction"), str):
            implied = " (implied by the route)" if row.get("via_direction_basis") == "route" else ""
            words += f" {row['via_direction']}{implied}"
        if not pd.isna(row.get("via_date")):
            day = pd.Timestamp(row["via_date"])
            phrase = row.get("via_date_phrase")
            said = f' ("{phrase}")' if isinstance(phrase, str) and phrase else ""
            words += f" on {day:%A %Y-%m-%d}{said}"
        parts.append(words)
    if isinstance(row.get("destination_port_id"), str):
        parts.append(
            f"bound for {gaz.port_name(row['destination_port_id'])} ({row['destination_port_id']})"
        )
    name = row.get("vessel_name") or row.get("claimed_imo") or "?"
    return f"{name}: " + "; ".join(parts)


def format_verdicts(frame: pd.DataFrame, gaz: Gazetteer, width: int = 100) -> str:
    """Render verdict rows (report, claim and departure_matches columns) as text blocks."""
    if frame.empty:
        return "no verdicts"
    claim_wrap = textwrap.TextWrapper(width=width, subsequent_indent=" " * 10)
    wrap = textwrap.TextWrapper(width=width, subsequent_indent=" " * 33)
    blocks = []
    for report_id, group in frame.groupby("report_id", sort=False):
        first = group.iloc[0]
        lines = [f"report {report_id}" + (f" ({first['source']})" if first.get("source") else "")]
        lines.append(claim_wrap.fill("  claim:  " + describe_claim(first, gaz)))
        for _, row in group.iterrows():
            ev = row["evidence"] or {}
            vessel = ev.get("vessel")
            if vessel:
                ident = (
                    f"{vessel.get('name') or '?'}  MMSI {vessel['mmsi']}"
                    + (f"  IMO {vessel['imo']}" if vessel.get("imo") else "")
                    + (f"  flag {vessel['flag']}" if vessel.get("flag") else "")
                    + f"  {describe_ship_type(vessel.get('ship_type'))}"
                )
                lines.append(f"  vessel: {ident}")
            lines.append(f"  verdict: {row['verdict'].upper()}")
            for check in ev.get("checks", []):
                lines.append(
                    wrap.fill(f"    {check['part']:<11} {check['status']:<16} {check['summary']}")
                )
            if row["verdict"] in ("vessel_not_found", "ambiguous"):
                lines.append(claim_wrap.fill(f"    {ev.get('rule', '')}"))
                for cand in ev.get("candidates", []):
                    if row["verdict"] == "ambiguous" and not cand.get("chosen"):
                        continue
                    lines.append(
                        claim_wrap.fill(
                            f"    candidate {cand.get('name') or '?'} MMSI {cand['mmsi']}: "
                            f"{cand['reason']}"
                        )
                    )
                if row["verdict"] == "ambiguous":
                    break  # each tied candidate's row repeats the same list
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def describe_verdicts(
    conn: psycopg.Connection, report_ids: list[str] | None = None, *, width: int = 100
) -> str:
    """The verdicts of these reports (all when None) as readable text, evidence in words."""
    where = "WHERE r.report_id = ANY(%s)" if report_ids is not None else ""
    frame = read_frame(
        conn,
        _VERDICTS_SQL.format(where=where),
        (list(report_ids),) if report_ids is not None else None,
    )
    return format_verdicts(frame, load_gazetteer(conn), width=width)
