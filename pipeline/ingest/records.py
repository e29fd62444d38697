"""The canonical record frame every reader produces, the reject vocabulary, and `Batch`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TEXT = "string[pyarrow]"  # text columns: pandas NA semantics, Arrow-backed vectorised string ops

# Canonical columns and their dtypes. One row per input record (a CSV data line, an NMEA message,
# a Parquet row). Values are as reported: sentinels (91/181, 102.3, 360, 511) are removed by
# `clean`, not by the readers.
RECORD_DTYPES: dict[str, str] = {
    "line_no": "int64",  # first physical line of the record (1 = first line of the file)
    "n_lines": "int32",  # physical lines the record spans (NMEA multi-sentence messages > 1)
    "kind": TEXT,  # "position" (may carry static fields too) or "static"
    "mmsi": "Int64",
    "ts": "datetime64[us, UTC]",
    "lat": "float64",
    "lon": "float64",
    "sog": "float64",  # knots
    "cog": "float64",  # degrees
    "heading": "float64",  # degrees
    "nav_status": "float64",  # ITU-R M.1371 code
    "name": TEXT,
    "imo": TEXT,
    "callsign": TEXT,
    "ship_type": "float64",  # AIS ship and cargo type
    "destination": TEXT,
    "eta": "datetime64[us, UTC]",
    "draught_m": "float64",
}
RECORD_COLUMNS = list(RECORD_DTYPES)
STATIC_FIELDS = ("name", "imo", "callsign", "ship_type", "destination", "eta", "draught_m")
REJECT_COLUMNS = ["line_no", "raw", "reason", "detail"]

# Every reason a record can be refused for, in the order the checks run. The README's table
# "Reject reasons" is this list; tests assert that the two agree.
REJECT_REASONS: dict[str, str] = {
    # structure (readers)
    "malformed_row": "CSV line whose number of fields differs from the header, or with an "
    "unbalanced quote",
    "not_ais": "NMEA file line that is not an AIS sentence: a comment, another NMEA sentence, "
    "text, or a Gatehouse $PGHP line with no AIS sentence after it",
    "malformed_sentence": "AIS sentence with broken fields (fragment numbers, fill bits, "
    "non-ASCII text, no *hh checksum)",
    "bad_checksum": "NMEA sentence or tag block whose checksum does not match",
    "empty_payload": "AIS sentence without payload",
    "lone_fragment": "part of a multi-sentence message whose other parts are missing, out of "
    "order or refused",
    "decode_error": "AIS payload too short for its message type",
    "unsupported_type": "AIS message type other than 1, 2, 3, 5, 18, 19, 24, 27 "
    "(and not listed under not_a_vessel)",
    "not_a_vessel": "report of a base station, aid to navigation or SAR aircraft (AIS types "
    "4, 9, 21; DMA 'Type of mobile')",
    "bad_value": "MMSI, latitude or longitude that is not a number (detail names the column "
    "and value)",
    "bad_timestamp": "time that cannot be read (CSV column, tag block c:, receiver time column)",
    # content (clean)
    "mmsi_out_of_range": "MMSI missing or outside 201000000-775999999 (ship stations)",
    "no_timestamp": "no time anywhere: not in the record, no tag block or receiver time, "
    "no --received-at",
    "timestamp_out_of_range": "time before 1990 or more than a day after the ingest",
    "position_not_available": "position report without a position (empty, or lat 91 / "
    "lon 181) and without static data",
    "position_out_of_range": "latitude outside -90..90 or longitude outside -180..180",
    "position_zero": "latitude 0 and longitude 0 (a receiver default, not a fix)",
    "duplicate": "same MMSI and time as an earlier record of the same file (the first one is kept)",
    "duplicate_of_loaded": "same MMSI and time as a fix already loaded from another file "
    "(detail names it)",
}


def empty_records(n: int = 0) -> pd.DataFrame:
    """An all-missing canonical frame of `n` rows (readers fill the columns they have)."""
    index = pd.RangeIndex(n)
    return pd.DataFrame(
        {name: pd.Series(index=index, dtype=t) for name, t in RECORD_DTYPES.items()}
    )


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Give `frame` exactly the canonical columns and dtypes (missing columns become NA)."""
    out = {}
    for name, dtype in RECORD_DTYPES.items():
        if name in frame:
            out[name] = frame[name].astype(dtype)
        else:
            out[name] = pd.Series(index=frame.index, dtype=dtype)
    return pd.DataFrame(out, index=frame.index)


def make_rejects(
    line_no: Iterable[int] | np.ndarray,
    raw: Iterable[str | None],
    reason: str | Iterable[str],
    detail: str | Iterable[str | None] | None = None,
) -> pd.DataFrame:
    """A rejects frame (line_no, raw, reason, detail); a str or None reason/detail is repeated."""
    lines = np.asarray(line_no if isinstance(line_no, np.ndarray) else list(line_no), dtype="int64")
    n = len(lines)

    def column(value: str | Iterable[str | None] | None) -> pd.api.extensions.ExtensionArray:
        values = [value] * n if value is None or isinstance(value, str) else list(value)
        return pd.array(values, dtype="string")

    return pd.DataFrame(
        {"line_no": lines, "raw": column(raw), "reason": column(reason), "detail": column(detail)}
    )


def empty_rejects() -> pd.DataFrame:
    return make_rejects(np.array([], dtype="int64"), [], [], [])


@dataclass
class Batch:
    """A slice of one input file: canonical records plus the lines the reader refused.

    Every physical record of the slice is either in `rejects` (one row per line) or covered
    by a row of `records` (`n_lines` lines each), so `lines_read` adds up per batch.
    `raw_text` gives back the text of physical lines by number (for records refused later);
    `member_lines` lists, for a record spanning several lines, the lines after its first.
    """

    records: pd.DataFrame
    rejects: pd.DataFrame
    raw_text: Callable[[np.ndarray], list[str]]
    member_lines: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def lines_read(self) -> int:
        return int(self.records["n_lines"].sum()) + len(self.rejects)

    def expand_rejects(self, refused: pd.DataFrame) -> pd.DataFrame:
        """Turn refused records (line_no, reason, detail) into one reject row per line."""
        if refused.empty:
            return empty_rejects()
        lines = refused["line_no"].to_numpy(dtype="int64")
        reasons = refused["reason"].astype("string").to_numpy()
        details = refused["detail"].astype("string").to_numpy()
        if self.member_lines:
            extra = [
                (member, reason, detail)
                for line, reason, detail in zip(lines, reasons, details, strict=True)
                for member in self.member_lines.get(int(line), ())
            ]
            if extra:
                lines = np.concatenate([lines, np.array([e[0] for e in extra], dtype="int64")])
                reasons = np.concatenate([reasons, np.array([e[1] for e in extra], dtype=object)])
                details = np.concatenate([details, np.array([e[2] for e in extra], dtype=object)])
        order = np.argsort(lines, kind="stable")
        lines = lines[order]
        return make_rejects(
            lines,
            self.raw_text(lines),
            [str(r) for r in reasons[order]],
            [None if pd.isna(d) else str(d) for d in details[order]],
        )


@dataclass
class ReadResult:
    """A whole file read without a database: all records and all reader rejects."""

    records: pd.DataFrame
    rejects: pd.DataFrame


def collect(batches: Iterator[Batch]) -> ReadResult:
    """Concatenate a reader's batches (convenient for small files and tests)."""
    records, rejects = [], []
    for batch in batches:
        records.append(batch.records)
        rejects.append(batch.rejects)
    return ReadResult(
        records=pd.concat(records, ignore_index=True) if records else empty_records(),
        rejects=pd.concat(rejects, ignore_index=True) if rejects else empty_rejects(),
    )
