"""Vessel identity (SCD type 2) and voyage-report histories from static AIS reports.

Pure core: `observations` -> `compress` -> `build_history`. A history is a list of periods per
MMSI: a period starts at the first report of a combination of values and ends where the next
combination is first reported. A missing value (a type 24 part A has no call sign, a NOAA row
no IMO) means "not reported", not a change: it takes the value reported before it, and a value
learnt later in a period fills that period. Two different values reported at the same instant
keep the later line. Repeated identical reports only move `last_seen_at`.

I/O: `merge_history` rebuilds the histories of the MMSIs a file reported on from what is stored
(each stored period gives its first and last report) plus the file's reports, and writes only
the difference (rows kept, updated, deleted, inserted). Files that cover separate spans of time
(daily files) give, in any load order, the history a single chronological load gives. Only the
first and last report of each run of equal reports is kept, so when two files overlap in time
and one reports a value inside a run of another value of the other file, the run is taken to
last from its first to its last report (the reports in between are not stored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from pipeline import db
from pipeline.ingest.clean import normalise_statics
from pipeline.ingest.records import TEXT
from pipeline.vessels import flags_of, imo_valid_mask

_STATIC_LOCK_KEY = "straitwatch.static_history"


@dataclass(frozen=True)
class HistorySpec:
    """One history table: its change fields and the name of its start column."""

    table: str
    fields: tuple[str, ...]
    start: str  # valid_from / reported_at
    has_end: bool  # valid_to column


IDENTITY = HistorySpec(
    "vessel_identity", ("name", "imo", "callsign", "ship_type"), "valid_from", True
)
VOYAGE = HistorySpec("voyage_reports", ("destination", "eta", "draught_m"), "reported_at", False)


def observations(
    statics: pd.DataFrame, spec: HistorySpec, file_id: int | None, *, normalise: bool = True
) -> pd.DataFrame:
    """Reports that carry at least one of the spec's fields: mmsi, ts, seq, fields, file_id
    (text normalised unless `normalise` is False, see clean.normalise_statics)."""
    fields = list(spec.fields)
    present = np.zeros(len(statics), dtype=bool)
    for f in fields:
        present |= statics[f].notna().to_numpy()
    obs = statics.loc[present, ["mmsi", "ts", "line_no", *fields]]
    obs = obs.rename(columns={"line_no": "seq"}).reset_index(drop=True)
    if normalise:
        obs = normalise_statics(obs)
    obs["file_id"] = pd.array([file_id] * len(obs), dtype="Int64")
    return obs[["mmsi", "ts", "seq", *fields, "file_id"]]


def _same_as_previous(frame: pd.DataFrame, fields: list[str]) -> np.ndarray:
    """Row equals the row before it (same MMSI and same values, missing == missing)."""
    return _runs(frame["mmsi"].to_numpy(), _value_hash(frame, fields))


def _value_hash(frame: pd.DataFrame, fields: list[str]) -> np.ndarray:
    """One integer per distinct combination of the fields' values (missing included); the
    numbers only compare rows of this frame."""
    combined = np.zeros(len(frame), dtype=np.int64)
    for f in fields:
        codes, uniques = pd.factorize(frame[f], use_na_sentinel=True)
        combined = combined * (len(uniques) + 1) + (codes + 1)
        combined, _ = pd.factorize(combined)  # renumber: keeps the product small
    return combined


def _runs(mmsi: np.ndarray, values: np.ndarray) -> np.ndarray:
    same = np.zeros(len(mmsi), dtype=bool)
    same[1:] = (mmsi[1:] == mmsi[:-1]) & (values[1:] == values[:-1])
    return same


def _order(obs: pd.DataFrame) -> np.ndarray:
    ts = obs["ts"].to_numpy(dtype="datetime64[us]").view("int64")
    return np.lexsort((obs["seq"].to_numpy(), ts, obs["mmsi"].to_numpy()))


def _sort(obs: pd.DataFrame) -> pd.DataFrame:
    return obs.take(_order(obs)).reset_index(drop=True)


def compress(obs: pd.DataFrame, spec: HistorySpec) -> pd.DataFrame:
    """Keep the first and last report of every run of identical reports (per MMSI, in time
    order): for reports that come in time order, the history built from what is kept is the
    one built from everything. Works on sort keys and value hashes; only the rows kept are
    copied."""
    if obs.empty:
        return obs
    order = _order(obs)
    same_prev = _runs(obs["mmsi"].to_numpy()[order], _value_hash(obs, list(spec.fields))[order])
    same_next = np.append(same_prev[1:], False)
    return obs.take(order[~(same_prev & same_next)]).reset_index(drop=True)


def build_history(obs: pd.DataFrame, spec: HistorySpec) -> pd.DataFrame:
    """Periods from reports: mmsi, start, end (valid_to), last_seen_at, fields, file_id."""
    fields = list(spec.fields)
    columns = ["mmsi", spec.start, "valid_to", "last_seen_at", *fields, "file_id"]
    if obs.empty:
        return pd.DataFrame(columns=columns)
    obs = _sort(obs)
    filled = obs.groupby("mmsi", sort=False)[fields].ffill()
    new_mmsi = obs["mmsi"].to_numpy() != np.roll(obs["mmsi"].to_numpy(), 1)
    new_mmsi[0] = True
    changed = np.zeros(len(obs), dtype=bool)
    for f in fields:
        prev = filled[f].shift(1)
        differs = (filled[f] != prev).fillna(False).to_numpy(dtype=bool)
        changed |= prev.notna().to_numpy() & filled[f].notna().to_numpy() & differs
    period = np.cumsum(new_mmsi | changed)
    grouped = pd.concat([obs[["mmsi", "ts", "file_id"]], filled], axis=1).groupby(
        period, sort=False
    )
    periods = grouped.agg(
        mmsi=("mmsi", "first"),
        start=("ts", "first"),
        last_seen_at=("ts", "last"),
        file_id=("file_id", "first"),
        **{f: (f, "last") for f in fields},
    ).reset_index(drop=True)
    periods = _drop_superseded(periods, fields)
    periods = periods.rename(columns={"start": spec.start})
    return periods[columns]


def _drop_superseded(periods: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Resolve periods that begin at the same instant as the next one (the later line wins),
    merge neighbours left with equal values, and set each period's end."""
    while True:
        nxt_same_mmsi = periods["mmsi"].shift(-1) == periods["mmsi"]
        zero = (nxt_same_mmsi & (periods["start"].shift(-1) == periods["start"])).to_numpy()
        if zero.any():
            periods = periods[~zero].reset_index(drop=True)
        same = _same_as_previous(periods, fields)
        if same.any():
            keep = ~same
            group = np.cumsum(keep)
            last_seen = periods.groupby(group, sort=False)["last_seen_at"].transform("max")
            periods = periods.assign(last_seen_at=last_seen)[keep].reset_index(drop=True)
        if not zero.any() and not same.any():
            break
    following = periods["start"].shift(-1)
    same_mmsi = (periods["mmsi"].shift(-1) == periods["mmsi"]).to_numpy()
    periods["valid_to"] = following.where(same_mmsi)
    periods["last_seen_at"] = periods[["last_seen_at", "valid_to"]].min(axis=1)
    return periods


class Accumulator:
    """Reports of one file, compressed as they come so memory stays small."""

    def __init__(self, spec: HistorySpec, file_id: int | None, *, fold_rows: int = 200_000) -> None:
        self.spec = spec
        self.file_id = file_id
        self.fold_rows = fold_rows  # compress what is held whenever it reaches this many rows
        self._parts: list[pd.DataFrame] = []
        self._rows = 0

    def add(self, statics: pd.DataFrame) -> None:
        """Fold in a batch of static reports (as `clean` gives them: sorted by mmsi, ts)."""
        fields = list(self.spec.fields)
        present = np.zeros(len(statics), dtype=bool)
        for f in fields:
            present |= statics[f].notna().to_numpy()
        if not present.any():
            return
        reports = statics if present.all() else statics[present]
        # runs of equal reports as reported (equal text stays equal once normalised); the
        # text of what is kept is normalised once, when the file's reports are asked for
        same_prev = _same_as_previous(reports, fields)
        same_next = np.append(same_prev[1:], False)
        kept = reports[~(same_prev & same_next)]
        new = observations(kept, self.spec, self.file_id, normalise=False)
        self._parts.append(new)
        self._rows += len(new)
        if self._rows >= self.fold_rows:
            self._fold()

    def _fold(self) -> None:
        if len(self._parts) > 1 or self._rows:
            folded = compress(pd.concat(self._parts, ignore_index=True), self.spec)
            self._parts, self._rows = [folded], len(folded)

    @property
    def obs(self) -> pd.DataFrame | None:
        """The file's reports, text normalised and compressed (None when it had none)."""
        if not self._parts:
            return None
        self._fold()
        columns = self._parts[0].columns
        return compress(normalise_statics(self._parts[0])[columns], self.spec)

    def __len__(self) -> int:
        return self._rows


# --------------------------------------------------------------------------- database


def _stored(conn: psycopg.Connection, spec: HistorySpec, mmsis: np.ndarray) -> pd.DataFrame:
    cols = ["mmsi", spec.start, "last_seen_at", *spec.fields, "file_id"]
    if spec.has_end:
        cols.append("valid_to")
    selected = [
        sql.SQL("coalesce(last_seen_at, {}) AS last_seen_at").format(sql.Identifier(spec.start))
        if c == "last_seen_at"
        else sql.Identifier(c)
        for c in cols
    ]
    query = sql.SQL("SELECT {} FROM {} WHERE mmsi = ANY(%s)").format(
        sql.SQL(", ").join(selected), sql.Identifier(db.SCHEMA, spec.table)
    )
    frame = db.read_frame(conn, query, ([int(m) for m in mmsis],))
    if frame.empty:
        frame = pd.DataFrame(columns=cols)
    return frame


def _typed(frame: pd.DataFrame, spec: HistorySpec) -> pd.DataFrame:
    out = frame.copy()
    out["mmsi"] = out["mmsi"].astype("int64")
    for col in (spec.start, "last_seen_at", "valid_to", "eta"):
        if col in out:
            out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
    for col in ("name", "imo", "callsign", "destination"):
        if col in out:
            out[col] = out[col].astype(TEXT)
    if "ship_type" in out:
        out["ship_type"] = pd.to_numeric(out["ship_type"]).astype("Int16")
    if "draught_m" in out:
        # stored as real: compare at float32 precision so an unchanged row stays unchanged
        out["draught_m"] = pd.to_numeric(out["draught_m"]).astype("float32").astype("float64")
    out["file_id"] = pd.to_numeric(out["file_id"]).astype("Int64")
    return out


@dataclass(frozen=True)
class MergeStats:
    inserted: int
    updated: int
    deleted: int


def merge_history(
    conn: psycopg.Connection, spec: HistorySpec, new_obs: pd.DataFrame | None
) -> MergeStats:
    """Fold a file's reports into the stored history (caller's transaction, serialised with
    other loaders by an advisory lock held until commit)."""
    if new_obs is None or new_obs.empty:
        return MergeStats(0, 0, 0)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_STATIC_LOCK_KEY,))
    new_obs = _typed(new_obs.rename(columns={"ts": spec.start}), spec).rename(
        columns={spec.start: "ts"}
    )
    mmsis = np.unique(new_obs["mmsi"].to_numpy())
    stored = _typed(_stored(conn, spec, mmsis), spec)
    fields = list(spec.fields)
    as_obs = [
        stored[["mmsi", spec.start, *fields, "file_id"]].rename(columns={spec.start: "ts"}),
        stored[["mmsi", "last_seen_at", *fields, "file_id"]].rename(columns={"last_seen_at": "ts"}),
    ]
    old = pd.concat(as_obs, ignore_index=True)
    old["seq"] = -1  # at the same instant, what is stored came first
    history = build_history(pd.concat([old, new_obs[old.columns]], ignore_index=True), spec)
    history = _typed(history, spec)

    key = ["mmsi", spec.start, *fields]
    old_key, new_key = _row_key(stored, key), _row_key(history, key)
    gone = stored[~old_key.isin(new_key)]
    fresh = history[~new_key.isin(old_key)]
    kept = history[new_key.isin(old_key)]
    before = stored.set_index(old_key).loc[new_key[new_key.isin(old_key)]]
    moved = ~_equal(
        kept["last_seen_at"], pd.Series(before["last_seen_at"].to_numpy(), index=kept.index)
    )
    if spec.has_end:
        moved |= ~_equal(
            kept["valid_to"], pd.Series(before["valid_to"].to_numpy(), index=kept.index)
        )
    changed = kept[moved]

    table = sql.Identifier(db.SCHEMA, spec.table)
    start = sql.Identifier(spec.start)
    if len(gone):
        conn.execute(
            sql.SQL(
                "DELETE FROM {t} USING unnest(%s::integer[], %s::timestamptz[]) AS d(mmsi, s) "
                "WHERE {t}.mmsi = d.mmsi AND {t}.{start} = d.s"
            ).format(t=table, start=start),
            (gone["mmsi"].tolist(), gone[spec.start].tolist()),
        )
    if len(changed):
        ends = changed["valid_to"].tolist() if spec.has_end else [None] * len(changed)
        set_end = sql.SQL(", valid_to = u.e") if spec.has_end else sql.SQL("")
        conn.execute(
            sql.SQL(
                "UPDATE {t} SET last_seen_at = u.l{set_end} FROM unnest(%s::integer[], "
                "%s::timestamptz[], %s::timestamptz[], %s::timestamptz[]) AS u(mmsi, s, l, e) "
                "WHERE {t}.mmsi = u.mmsi AND {t}.{start} = u.s"
            ).format(t=table, start=start, set_end=set_end),
            (
                changed["mmsi"].tolist(),
                changed[spec.start].tolist(),
                changed["last_seen_at"].tolist(),
                [None if pd.isna(e) else e for e in ends],
            ),
        )
    if len(fresh):
        out = fresh[["mmsi", spec.start, "last_seen_at", *fields, "file_id"]].copy()
        if spec.has_end:
            out["valid_to"] = fresh["valid_to"]
            out["imo_valid"] = imo_valid_mask(out["imo"].fillna("")).where(out["imo"].notna())
            out["flag"] = flags_of(out["mmsi"])
        _copy_rows(conn, spec.table, out)
    return MergeStats(len(fresh), len(changed), len(gone))


def _equal(a: pd.Series, b: pd.Series) -> pd.Series:
    return ((a == b).fillna(False) | (a.isna() & b.isna())).astype(bool)


def _row_key(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """A 64-bit hash per row over the `key` columns (missing values included)."""
    return pd.util.hash_pandas_object(frame[key], index=False)


def _copy_rows(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY a small frame row by row (psycopg adapts each value; NA becomes NULL)."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(db.SCHEMA, table), sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    )
    columns = []
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            values = [None if pd.isna(v) else v.to_pydatetime() for v in col]
        else:
            values = [None if pd.isna(v) else v for v in col.astype(object)]
        columns.append(values)
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)
