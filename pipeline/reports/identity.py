"""Which vessels a claim names: names as they were at the claimed time, IMO, MMSI, ship type.

Rules (pure functions over a frame of `vessel_identity` rows):
- names compare in normalised form (names.normalise_name): case, punctuation, transliteration,
  "2" = "II"; the words may differ by spelling (rapidfuzz ratio >= `fuzzy_min_score` on names of
  at least `fuzzy_min_letters` letters) but the numerals never: SPARTA != SPARTA II != SPARTA IV;
- a name counts only as it was at the claimed time: the identity periods of an MMSI that overlap
  the claim's window, or the period nearest to it when none does (AIS history may start later);
  so a ship renamed after the event still matches its old name, and a ship that took the name
  later does not;
- a claimed IMO that passes its check digit selects the hull: vessels with that IMO are the
  candidates, and a same-name vessel whose valid IMO differs is set aside; a claimed MMSI selects
  that MMSI;
- ship type and flag (from the MMSI's MID) do not select, they separate candidates later
  (`type_fit`, `flag_fit`), except when the claim states the kind of ship (a report about cargo
  ships does not describe a fishing trawler).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from pipeline.reports.names import name_parts, normalise_name, normalise_names
from pipeline.vessels import flags_of, imo_is_valid, normalise_imo

IDENTITY_COLUMNS = [
    "identity_id",
    "mmsi",
    "imo",
    "imo_valid",
    "name",
    "callsign",
    "ship_type",
    "flag",
    "valid_from",
    "valid_to",
]
CANDIDATE_COLUMNS = [
    "mmsi",
    "name",
    "imo",
    "ship_type",
    "flag",
    "matched_by",
    "name_score",
    "valid_from",
    "valid_to",
]


_FAR_PAST = pd.Timestamp("1900-01-01", tz="UTC")
_FAR_FUTURE = pd.Timestamp("2200-01-01", tz="UTC")


@dataclass(frozen=True)
class IdentityConfig:
    fuzzy_min_score: float = 90.0  # rapidfuzz ratio (0-100) on the words of two names
    fuzzy_min_letters: int = 5  # shorter names must match exactly: "ANNA" is not "ANNE"
    max_near_misses: int = 5  # names set aside that the evidence lists


@dataclass(frozen=True)
class ClaimedVessel:
    name: str | None
    imo: str | None
    mmsi: int | None
    kind: str | None  # cargo, tanker, passenger, fishing, military, merchant
    flag: str | None
    window_start: datetime | None  # the claim's time span, for names as they were then
    window_end: datetime | None


# AIS "type of ship and cargo" (ITU-R M.1371 table 53) -> kinds a report may state
def ship_kind(ship_type: float | int | None) -> str | None:
    """Kind of a vessel from its AIS ship type, None when unknown (0, missing)."""
    if ship_type is None or pd.isna(ship_type):
        return None
    t = int(ship_type)
    if t == 30:
        return "fishing"
    if t == 35:
        return "military"
    if 60 <= t <= 69 or 40 <= t <= 49:
        return "passenger"
    if 70 <= t <= 79:
        return "cargo"
    if 80 <= t <= 89:
        return "tanker"
    if t in (31, 32, 33, 34, 50, 51, 52, 53, 54, 55, 58):
        return "service"
    if t in (36, 37):
        return "pleasure"
    if 90 <= t <= 99 or 20 <= t <= 29 or t in (56, 57, 59):
        return "other"
    return None


_FITS = {
    "cargo": {"cargo"},
    "tanker": {"tanker"},
    "passenger": {"passenger"},
    "fishing": {"fishing"},
    "military": {"military"},
    # a report about a voyage between ports, kind not stated: a merchant ship is expected
    "merchant": {"cargo", "tanker", "passenger", "other"},
}


def type_fit(claim_kind: str | None, ship_type: float | int | None) -> str:
    """'fits', 'unknown' or 'conflicts': does the AIS ship type fit the kind the claim implies?"""
    kind = ship_kind(ship_type)
    if kind is None:
        return "unknown"
    return "fits" if kind in _FITS.get(claim_kind or "merchant", set()) else "conflicts"


def describe_ship_type(ship_type: float | int | None) -> str:
    kind = ship_kind(ship_type)
    if kind is None:
        return "type unknown"
    return f"{kind} (AIS type {int(ship_type)})"  # type: ignore[arg-type]


def name_relation(claimed: str, names: pd.Series, config: IdentityConfig) -> pd.DataFrame:
    """How each name relates to the claimed one: exact, spelling, numeral (differs) or none.

    Returns columns relation and score (rapidfuzz ratio of the words, 0-100).
    """
    target = name_parts(normalise_name(claimed))
    norm = normalise_names(names)
    parts = norm.map(name_parts)
    words = parts.map(lambda p: p.words)
    numerals = parts.map(lambda p: p.numerals)
    uniq = words.unique()
    scores = {w: fuzz.ratio(w, target.words) for w in uniq}
    score = words.map(scores).astype(float)
    letters = min(len(target.words.replace(" ", "")), 99)
    same_words = words == target.words
    close = (score >= config.fuzzy_min_score) & (letters >= config.fuzzy_min_letters)
    same_numerals = numerals.map(lambda n: n == target.numerals)
    relation = np.select(
        [
            same_words & same_numerals,
            close & same_numerals,
            (same_words | close) & ~same_numerals,
        ],
        ["exact", "spelling", "numeral"],
        default="none",
    )
    if not target.words:
        relation = np.where(norm == normalise_name(claimed), "exact", "none")
    return pd.DataFrame({"relation": relation, "score": score.to_numpy()}, index=names.index)


def _relevant_periods(rows: pd.DataFrame, start: datetime | None, end: datetime | None):
    """Mask of identity periods that tell a vessel's name at the claimed time."""
    lo = pd.Timestamp(start) if start is not None else _FAR_PAST
    hi = pd.Timestamp(end) if end is not None else _FAR_FUTURE
    vf = pd.to_datetime(rows["valid_from"], utc=True).dt.as_unit("us").fillna(_FAR_PAST)
    vt = pd.to_datetime(rows["valid_to"], utc=True).dt.as_unit("us").fillna(_FAR_FUTURE)
    overlaps = (vf < hi) & (vt > lo)
    # distance in seconds from each period to the window, to take the nearest when none overlaps
    gap = np.maximum((vf - hi).dt.total_seconds(), (lo - vt).dt.total_seconds()).clip(lower=0)
    has_overlap = overlaps.groupby(rows["mmsi"]).transform("any")
    nearest = gap == gap.groupby(rows["mmsi"]).transform("min")
    return overlaps | (~has_overlap & nearest)


def resolve_candidates(
    claim: ClaimedVessel, identities: pd.DataFrame, config: IdentityConfig = IdentityConfig()
) -> tuple[pd.DataFrame, list[dict]]:
    """Candidate vessels for a claim, and the near misses set aside with the reason.

    `identities` holds vessel_identity rows (IDENTITY_COLUMNS) of every MMSI that may matter.
    """
    rows = identities.reindex(columns=IDENTITY_COLUMNS).reset_index(drop=True)
    near: list[dict] = []
    if rows.empty:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), near
    rel = (
        name_relation(claim.name, rows["name"], config)
        if claim.name
        else pd.DataFrame({"relation": "none", "score": np.nan}, index=rows.index)
    )
    rows = rows.join(rel)
    rows["relevant"] = _relevant_periods(rows, claim.window_start, claim.window_end)
    imo = normalise_imo(claim.imo) if claim.imo and imo_is_valid(claim.imo) else None
    rows["imo_match"] = (rows["imo"].astype("string") == imo).fillna(False) & rows[
        "imo_valid"
    ].fillna(False).astype(bool)
    rows["name_match"] = rows["relation"].isin(["exact", "spelling"]) & rows["relevant"]

    by_mmsi = rows.groupby("mmsi")
    mmsi_hit = pd.Series(by_mmsi.size().index == claim.mmsi, index=by_mmsi.size().index)
    imo_hit = by_mmsi["imo_match"].any()
    name_hit = by_mmsi["name_match"].any()
    valid_imos = rows[rows["imo_valid"].fillna(False).astype(bool)].groupby("mmsi")["imo"].agg(set)

    if claim.mmsi is not None:
        chosen = mmsi_hit
        how = "mmsi"
    elif imo is not None and imo_hit.any():
        chosen = imo_hit
        how = "imo"
    else:
        chosen = name_hit.copy()
        how = "name"
        if imo is not None:
            other_imo = valid_imos.map(lambda s: bool(s) and imo not in s)
            clash = chosen & other_imo.reindex(chosen.index, fill_value=False)
            for mmsi in clash[clash].index:
                near.append(
                    _near(
                        rows,
                        mmsi,
                        f"its IMO {sorted(valid_imos[mmsi])[0]} is not the claimed {imo}",
                    )
                )
            chosen &= ~clash

    # names set aside: another numeral, or the name only outside the claimed time
    for mmsi, group in by_mmsi:
        if chosen.get(mmsi, False) or len(near) >= config.max_near_misses:
            continue
        if (group["relation"] == "numeral").any() and how == "name":
            name = group.loc[group["relation"] == "numeral", "name"].iloc[0]
            near.append(_near(rows, mmsi, f"{name} carries another numeral than {claim.name}"))
        elif group["relation"].isin(["exact", "spelling"]).any() and how == "name":
            g = group[group["relation"].isin(["exact", "spelling"])].iloc[0]
            near.append(_near(rows, mmsi, f"named {g['name']} only outside the claimed time"))

    picked = rows[rows["mmsi"].isin(chosen[chosen].index) & rows["relevant"]]
    if picked.empty:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), near
    # per vessel: the period that matched, latest first
    picked = picked.assign(
        rank=picked["name_match"].astype(int) + picked["imo_match"].astype(int)
    ).sort_values(["mmsi", "rank", "valid_from"], ascending=[True, False, False])
    best = picked.drop_duplicates("mmsi").copy()
    best["matched_by"] = how
    best["name_score"] = best["score"]
    best["flag"] = flags_of(best["mmsi"]).fillna(best["flag"].astype("string"))
    best["imo"] = best["imo"].where(best["imo_valid"].fillna(False).astype(bool))
    return best.reindex(columns=CANDIDATE_COLUMNS).reset_index(drop=True), near


def _near(rows: pd.DataFrame, mmsi: int, reason: str) -> dict:
    row = rows[rows["mmsi"] == mmsi].sort_values("valid_from").iloc[-1]
    return {
        "mmsi": int(mmsi),
        "name": None if pd.isna(row["name"]) else str(row["name"]),
        "imo": None if pd.isna(row["imo"]) else str(row["imo"]),
        "ship_type": None if pd.isna(row["ship_type"]) else int(row["ship_type"]),
        "chosen": False,
        "reason": reason,
    }
