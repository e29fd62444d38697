"""PostgreSQL binary COPY, encoded with NumPy: a frame in, COPY ... (FORMAT binary) bytes out.

Rows are grouped by which of their values are NULL; each group is one NumPy structured array
whose big-endian fields are exactly the binary tuple layout, so encoding costs a few array
copies per column instead of Python per row. Row order is not kept across groups (COPY order
does not matter to a table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01

# PostgreSQL type -> big-endian NumPy dtype of its binary representation
_WIRE = {
    "smallint": ">i2",
    "integer": ">i4",
    "bigint": ">i8",
    "real": ">f4",
    "double precision": ">f8",
    "timestamptz": ">i8",
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # a key of _WIRE


def _values(series: pd.Series, pg_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Column values in wire order and a mask of NULLs."""
    null = series.isna().to_numpy()
    if pg_type == "timestamptz":
        micros = series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        raw = micros.to_numpy(dtype="datetime64[us]").view("int64")
        return raw - _PG_EPOCH_US, null
    wire = np.dtype(_WIRE[pg_type])
    kind = "float64" if wire.kind == "f" else "int64"
    fill = np.nan if kind == "float64" else 0
    return series.to_numpy(dtype=kind, na_value=fill), null


def encode(frame: pd.DataFrame, columns: Sequence[Column], *, with_header: bool = True) -> bytes:
    """Binary COPY data for `frame` (signature and trailer included when `with_header`)."""
    n = len(frame)
    parts = [SIGNATURE] if with_header else []
    if n:
        values, nulls = [], np.zeros(n, dtype=np.int64)
        for i, col in enumerate(columns):
            v, null = _values(frame[col.name], col.pg_type)
            values.append(v)
            nulls |= null.astype(np.int64) << i
        for pattern in np.unique(nulls):
            rows = nulls == pattern if len(np.unique(nulls)) > 1 else slice(None)
            fields: list[tuple[str, str]] = [("n", ">i2")]
            for i, col in enumerate(columns):
                fields.append((f"len{i}", ">i4"))
                if not (pattern >> i) & 1:
                    fields.append((f"val{i}", _WIRE[col.pg_type]))
            count = n if isinstance(rows, slice) else int(rows.sum())
            record = np.empty(count, dtype=fields)
            record["n"] = len(columns)
            for i, col in enumerate(columns):
                if (pattern >> i) & 1:
                    record[f"len{i}"] = -1
                else:
                    record[f"len{i}"] = np.dtype(_WIRE[col.pg_type]).itemsize
                    record[f"val{i}"] = values[i][rows]
            parts.append(record.tobytes())
    if with_header:
        parts.append(TRAILER)
    return b"".join(parts)
