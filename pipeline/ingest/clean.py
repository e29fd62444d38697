"""Cleaning rules, vectorised: canonical records -> positions, static reports and rejects.

Checks run in this order; a record is refused for the first one it fails:
MMSI in the ship range, a time, a plausible time, a position (not 91/181, in range, not 0/0),
then no earlier record of the file with the same MMSI and time. A position report without a
position but with static data (DMA and NMEA class B static rows) is kept as a static report.
Values that mean "not available" become missing, not rejects: SOG 102.3 (and anything outside
0-102.2), COG 360 (outside 0-359.9), heading 511 (outside 0-359), nav status outside 0-15,
ship type 0 or outside 1-99, draught 0, IMO 0000000.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest.records import STATIC_FIELDS, TEXT
from pipeline.vessels import SHIP_MMSI_MAX, SHIP_MMSI_MIN, imo_valid_mask

POSITION_COLUMNS = ["mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status"]
STATIC_COLUMNS = ["mmsi", "ts", "line_no", "name", "imo", "callsign", "ship_type"]
STATIC_COLUMNS += ["destination", "eta", "draught_m"]


@dataclass(frozen=True)
class CleanConfig:
    """Limits for `clean`; times are UTC."""

    mmsi_min: int = SHIP_MMSI_MIN
    mmsi_max: int = SHIP_MMSI_MAX
    earliest: datetime = datetime(1990, 1, 1, tzinfo=UTC)
    max_future_h: float = 24.0  # fixes more than this after the ingest are clock errors
    sog_max_kn: float = 102.2  # 102.3 means "not available"


@dataclass
class Cleaned:
    """What `clean` made of a frame of records.

    positions: POSITION_COLUMNS + line_no, sorted by (mmsi, ts), missing values NaN / NA.
    statics: one row per accepted record that carried any static or voyage field, sorted by
        (mmsi, ts, line_no); text as reported (`normalise_statics` cleans it).
    rejects: line_no, reason, detail of each refused record (first line of the record).
    loaded_lines: physical lines of the accepted records.
    """

    positions: pd.DataFrame
    statics: pd.DataFrame
    rejects: pd.DataFrame
    loaded_lines: int


def normalise_imo(imo: pd.Series) -> pd.Series:
    """IMO text -> the 7 digits where it is one ('IMO9307839' -> '9307839'), other text kept;
    all-zero and blank values mean "not available"."""
    text = imo.astype(TEXT).str.strip().str.upper().str.removeprefix("IMO").str.strip()
    text = text.str.replace(r"\.0$", "", regex=True)
    zero = text.str.fullmatch(r"0+").fillna(False).astype(bool)
    return text.mask(zero | (text == ""))


def _per_value(transform: Callable[[pd.Series], pd.Series], values: pd.Series) -> pd.Series:
    """Apply `transform` once per distinct value (static fields repeat on every row)."""
    codes, uniques = pd.factorize(values.astype(TEXT), use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series(pd.NA, index=values.index, dtype=TEXT)
    done = transform(pd.Series(uniques, dtype=TEXT)).astype(TEXT).array
    out = pd.Series(done.take(np.maximum(codes, 0)), index=values.index, dtype=TEXT)
    return out.mask(codes < 0)


def _clean_text(values: pd.Series) -> pd.Series:
    """Trimmed text with AIS padding ('@') and runs of blanks made single spaces; '' -> NA."""
    return _per_value(_clean_text_values, values)


def _clean_text_values(values: pd.Series) -> pd.Series:
    text = pa.chunked_array([pa.array(values.astype(TEXT), type=pa.large_string())])
    text = pc.replace_substring(text, "@", " ")
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
    return pd.Series(pd.array(text.cast(pa.string()), dtype=TEXT), index=values.index)


def _imo_valid(imo: pd.Series) -> pd.Series:
    """Check digit verdict per row (NA where there is no IMO), computed once per value."""
    codes, uniques = pd.factorize(imo, use_na_sentinel=True)
    verdict = imo_valid_mask(pd.Series(uniques, dtype=TEXT)).to_numpy(dtype=bool)
    out = pd.array(np.append(verdict, False)[codes], dtype="boolean")  # -1 picks the pad
    out[codes < 0] = pd.NA
    return pd.Series(out, index=imo.index)


def _small_int(values: pd.Series, low: int, high: int) -> pd.Series:
    """Whole numbers in [low, high] as Int16; anything else is missing."""
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    ok = (numbers >= low) & (numbers <= high) & (np.round(numbers) == numbers)
    data = np.where(ok, numbers, 0).astype("int16")
    return pd.Series(pd.arrays.IntegerArray(data, ~ok), index=values.index)


def clean(
    records: pd.DataFrame, config: CleanConfig = CleanConfig(), now: datetime | None = None
) -> Cleaned:
    """Apply the cleaning rules to canonical records (see the module docstring)."""
    n = len(records)
    now_ts = pd.Timestamp(now or datetime.now(UTC)).tz_convert("UTC")
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def refuse(mask: np.ndarray, why: str, text: Callable[[np.ndarray], list[str]] | None) -> None:
        new = mask & pd.isna(reason)
        if not new.any():
            return
        reason[new] = why
        if text is not None:
            detail[new] = text(new)

    def shown(*pairs: tuple[str, pd.Series]) -> Callable[[np.ndarray], list[str]]:
        def text(mask: np.ndarray) -> list[str]:
            columns = [(label, values.to_numpy()[mask]) for label, values in pairs]
            return [
                ", ".join(f"{label}={'' if pd.isna(v[i]) else v[i]}" for label, v in columns)
                for i in range(int(mask.sum()))
            ]

        return text

    mmsi = records["mmsi"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    bad_mmsi = ~((mmsi >= config.mmsi_min) & (mmsi <= config.mmsi_max))
    refuse(bad_mmsi, "mmsi_out_of_range", shown(("mmsi", records["mmsi"])))

    ts = records["ts"]
    no_ts = ts.isna().to_numpy()
    refuse(no_ts, "no_timestamp", None)
    latest = now_ts + pd.Timedelta(hours=config.max_future_h)
    odd_ts = ~no_ts & ((ts < pd.Timestamp(config.earliest)) | (ts > latest)).to_numpy()
    refuse(odd_ts, "timestamp_out_of_range", shown(("ts", ts)))

    lat = records["lat"].to_numpy(dtype="float64", na_value=np.nan)
    lon = records["lon"].to_numpy(dtype="float64", na_value=np.nan)
    is_position = (records["kind"] == "position").fillna(False).to_numpy(dtype=bool)
    has_static = np.zeros(n, dtype=bool)
    for name in STATIC_FIELDS:
        if name in records:
            has_static |= records[name].notna().to_numpy()
    unavailable = np.isnan(lat) | np.isnan(lon) | (lat == 91) | (lon == 181)
    refuse(is_position & unavailable & ~has_static, "position_not_available", None)
    as_static = is_position & unavailable & has_static
    is_position &= ~unavailable
    where = shown(("lat", records["lat"]), ("lon", records["lon"]))
    refuse(is_position & ((np.abs(lat) > 90) | (np.abs(lon) > 180)), "position_out_of_range", where)
    refuse(is_position & (lat == 0) & (lon == 0), "position_zero", None)

    # duplicates among the fixes still standing, the first in the file wins: sorted by
    # (mmsi, ts, line), a repeat is a row with the same mmsi and ts as the row before it
    candidate = np.flatnonzero(is_position & pd.isna(reason))
    if len(candidate):
        lines = records["line_no"].to_numpy()[candidate]
        stamps = ts.to_numpy(dtype="datetime64[us]").view("int64")[candidate]
        keys = mmsi[candidate]
        order = np.lexsort((lines, stamps, keys))
        k, t = keys[order], stamps[order]
        repeat = np.zeros(len(order), dtype=bool)
        repeat[1:] = (k[1:] == k[:-1]) & (t[1:] == t[:-1])
        if repeat.any():
            run_start = np.maximum.accumulate(np.where(~repeat, np.arange(len(order)), 0))
            mask = np.zeros(n, dtype=bool)
            mask[candidate[order[repeat]]] = True
            original = np.zeros(n, dtype="int64")
            original[candidate[order[repeat]]] = lines[order[run_start[repeat]]]
            refuse(
                mask,
                "duplicate",
                lambda m: [f"same mmsi and time as line {v}" for v in original[m]],
            )

    accepted = pd.isna(reason)
    keep_position = accepted & is_position
    positions = _positions(
        _rows(records, POSITION_SOURCE, keep_position), mmsi[keep_position], config
    )
    static_rows = accepted & (has_static | as_static)
    statics = _statics(_rows(records, STATIC_SOURCE, static_rows), mmsi[static_rows])
    rejected = ~accepted
    rejects = pd.DataFrame(
        {
            "line_no": records["line_no"].to_numpy()[rejected],
            "reason": reason[rejected].astype(str),
            "detail": detail[rejected],
        }
    )
    loaded_lines = int(records["n_lines"].to_numpy()[accepted].sum())
    return Cleaned(positions, statics, rejects, loaded_lines)


POSITION_SOURCE = ["line_no", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status"]
STATIC_SOURCE = ["line_no", "ts", "name", "imo", "callsign", "ship_type", "destination", "eta"]
STATIC_SOURCE += ["draught_m"]


def _rows(records: pd.DataFrame, columns: list[str], mask: np.ndarray) -> pd.DataFrame:
    """The rows of `mask`, only the columns needed (no copy when every row is kept)."""
    frame = records[columns]
    return frame if mask.all() else frame[mask]


def _positions(records: pd.DataFrame, mmsi: np.ndarray, config: CleanConfig) -> pd.DataFrame:
    sog = records["sog"].to_numpy(dtype="float64", na_value=np.nan)
    cog = records["cog"].to_numpy(dtype="float64", na_value=np.nan)
    frame = pd.DataFrame(
        {
            "mmsi": mmsi.astype("int64"),
            "ts": records["ts"].array,
            "lat": records["lat"].to_numpy(dtype="float64"),
            "lon": records["lon"].to_numpy(dtype="float64"),
            "sog": np.where((sog >= 0) & (sog <= config.sog_max_kn), sog, np.nan),
            "cog": np.where((cog >= 0) & (cog < 360), cog, np.nan),
            "heading": _small_int(records["heading"], 0, 359).array,
            "nav_status": _small_int(records["nav_status"], 0, 15).array,
            "line_no": records["line_no"].to_numpy(dtype="int64"),
        }
    )
    ts = frame["ts"].to_numpy(dtype="datetime64[us]").view("int64")
    order = np.lexsort((frame["line_no"].to_numpy(), ts, frame["mmsi"].to_numpy()))
    return frame.take(order).reset_index(drop=True)


def _statics(records: pd.DataFrame, mmsi: np.ndarray) -> pd.DataFrame:
    draught = records["draught_m"].to_numpy(dtype="float64", na_value=np.nan)
    ts = records["ts"]
    order = np.lexsort(
        (
            records["line_no"].to_numpy(),
            ts.to_numpy(dtype="datetime64[us]").view("int64"),
            mmsi,
        )
    )
    frame = pd.DataFrame(
        {
            "mmsi": mmsi.astype("int64"),
            "ts": ts.array,
            "line_no": records["line_no"].to_numpy(dtype="int64"),
            "name": records["name"].array,
            "imo": records["imo"].array,
            "callsign": records["callsign"].array,
            "ship_type": _small_int(records["ship_type"], 1, 99).array,
            "destination": records["destination"].array,
            "eta": records["eta"].array,
            "draught_m": np.where(np.isfinite(draught) & (draught > 0), draught, np.nan),
        }
    )
    return frame.take(order).reset_index(drop=True)


def normalise_statics(statics: pd.DataFrame) -> pd.DataFrame:
    """Static reports with their text cleaned (see `_clean_text`), IMO numbers normalised and
    an `imo_valid` column (check digit right; NA where there is no IMO)."""
    out = statics.copy()
    for col in ("name", "callsign", "destination"):
        if col in out:
            out[col] = _clean_text(out[col])
    if "imo" in out:
        out["imo"] = _per_value(normalise_imo, out["imo"])
        out["imo_valid"] = _imo_valid(out["imo"])
    return out
