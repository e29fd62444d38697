"""Generic tabular reader: CSV or Parquet + a column mapping -> canonical records.

The NOAA and DMA readers are layouts of this reader; any other table is read through a mapping
file (TOML, see seeds/mappings/) or, failing that, by recognising well-known column names.

A record is one non-blank data line (CSV) or one row (Parquet). CSV lines are validated before
parsing (field count, balanced quotes) with NumPy over the raw bytes, so a malformed line is
refused with its own text and line number while the rest of its block parses in one pyarrow
call. Required values (MMSI, latitude, longitude, time) that cannot be read refuse the record;
optional values that cannot be read (speed, course, heading, status, ship type, draught, ETA)
become missing.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError
from pipeline.ingest.records import (
    TEXT,
    Batch,
    ReadResult,
    collect,
    conform,
    empty_rejects,
    make_rejects,
)
from pipeline.ingest.source import BLOCK_BYTES, LineBlock, SourceFile, inspect, iter_line_blocks

MAPPINGS_DIR = SEEDS_DIR / "mappings"
NUMERIC_FIELDS: tuple[str, ...] = (
    *("mmsi", "lat", "lon", "sog", "cog", "heading", "nav_status", "ship_type", "draught_m"),
)
TEXT_FIELDS = ("name", "imo", "callsign", "destination")
REQUIRED_FIELDS = ("mmsi", "lat", "lon")
CANONICAL_FIELDS = NUMERIC_FIELDS + TEXT_FIELDS + ("ts", "eta")
PARQUET_BATCH_ROWS = 200_000

# Column names seen in the wild, normalised (lower case, letters and digits only) -> field.
WELL_KNOWN_COLUMNS: dict[str, str] = {
    **dict.fromkeys(["mmsi", "userid", "ssvid", "mmsinumber"], "mmsi"),
    **dict.fromkeys(
        [
            "ts",
            "timestamp",
            "time",
            "datetime",
            "basedatetime",
            "timestamputc",
            "datetimeutc",
            "msgtime",
            "snapshottime",
            "postime",
            "receivedat",
        ],
        "ts",
    ),
    **dict.fromkeys(["lat", "latitude", "y"], "lat"),
    **dict.fromkeys(["lon", "lng", "long", "longitude", "x"], "lon"),
    **dict.fromkeys(["sog", "speed", "speedoverground", "speedknots"], "sog"),
    **dict.fromkeys(["cog", "course", "courseoverground"], "cog"),
    **dict.fromkeys(["heading", "trueheading", "hdg"], "heading"),
    **dict.fromkeys(["navstatus", "navigationalstatus", "status", "navstat"], "nav_status"),
    **dict.fromkeys(["name", "shipname", "vesselname"], "name"),
    **dict.fromkeys(["imo", "imonumber"], "imo"),
    **dict.fromkeys(["callsign"], "callsign"),
    **dict.fromkeys(["shiptype", "vesseltype", "shipandcargotype", "type"], "ship_type"),
    **dict.fromkeys(["destination", "dest"], "destination"),
    **dict.fromkeys(["eta"], "eta"),
    **dict.fromkeys(["draught", "draft", "draughtm"], "draught_m"),
}


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Layout:
    """How a table's columns become canonical fields.

    `columns` maps canonical field -> source column (exact header text). Times without a zone
    are UTC. `timestamp_formats` are tried in order: "ISO8601", "epoch_s", "epoch_ms" or a
    strptime pattern.
    """

    name: str
    fmt: str  # ingested_files.format: noaa, dma, csv, parquet
    columns: Mapping[str, str]
    timestamp_formats: tuple[str, ...] = ("ISO8601",)
    eta_formats: tuple[str, ...] = ("ISO8601",)
    delimiter: str = ","
    null_tokens: Mapping[str, frozenset[str]] = field(default_factory=dict)
    text_codes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    station_column: str | None = None  # column naming the kind of station (DMA)
    non_vessel_stations: frozenset[str] = frozenset()
    source: str | None = None  # mapping file it came from

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(CANONICAL_FIELDS))
        if unknown:
            raise StraitwatchError(
                f"mapping {self.name}: unknown field(s) {', '.join(unknown)}; "
                f"fields are {', '.join(CANONICAL_FIELDS)}"
            )
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns]
        if missing:
            raise StraitwatchError(
                f"mapping {self.name}: no column for {', '.join(missing)} (required)"
            )

    @property
    def source_columns(self) -> list[str]:
        cols = list(dict.fromkeys(self.columns.values()))
        if self.station_column:
            cols.append(self.station_column)
        return cols


# --------------------------------------------------------------------------- mapping files


def load_mapping(path: Path | str, fmt: str = "csv") -> Layout:
    """Read a TOML column-mapping file (see seeds/mappings/README.md for its keys)."""
    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StraitwatchError(f"cannot read mapping {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StraitwatchError(f"mapping {path}: not valid TOML: {exc}") from exc
    columns = spec.get("columns")
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise StraitwatchError(f'mapping {path}: needs a [columns] table of field = "column"')

    def formats(key: str) -> tuple[str, ...]:
        value = spec.get(key, "ISO8601")
        return (value,) if isinstance(value, str) else tuple(value)

    return Layout(
        name=str(spec.get("name", path.stem)),
        fmt=fmt,
        columns=columns,
        timestamp_formats=formats("timestamp_format"),
        eta_formats=formats("eta_format"),
        delimiter=str(spec.get("delimiter", ",")),
        null_tokens={k: frozenset(v) for k, v in spec.get("null_values", {}).items()},
        source=str(path),
    )


def shipped_mappings() -> list[Path]:
    return sorted(MAPPINGS_DIR.glob("*.toml"))


def layout_for_header(header: list[str], fmt: str) -> Layout | None:
    """A shipped mapping whose columns are all in `header`, else one from well-known names."""
    present = set(header)
    for path in shipped_mappings():
        layout = load_mapping(path, fmt)
        if set(layout.source_columns) <= present:
            return layout
    columns: dict[str, str] = {}
    for col in header:
        target = WELL_KNOWN_COLUMNS.get(normalise_name(col))
        if target and target not in columns:
            columns[target] = col
    if all(f in columns for f in REQUIRED_FIELDS):
        return Layout(name="well-known column names", fmt=fmt, columns=columns)
    return None


# --------------------------------------------------------------------------- value conversion


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    return pc.utf8_trim_whitespace(column)


def _drop_tokens(column: pa.ChunkedArray, tokens: frozenset[str]) -> pa.ChunkedArray:
    """Text column with blank values and the given tokens turned into nulls."""
    text = _as_text(column)
    blank = pc.equal(text, "")
    if tokens:
        blank = pc.or_(blank, pc.is_in(text, value_set=pa.array(sorted(tokens))))
    return pc.if_else(blank, pa.scalar(None, pa.string()), text)


def _to_float(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NaN where missing) and a mask of values present but not numbers."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False).astype("float64")
        return values, np.zeros(len(values), dtype=bool)
    text = _as_text(column)
    try:
        values = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype="float64"), np.zeros(len(values), dtype=bool)
    except pa.ArrowInvalid:
        series = text.to_pandas()
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = series.notna().to_numpy() & (series != "").to_numpy() & np.isnan(values)
        return values, bad


def _to_utc(column: pa.ChunkedArray, formats: tuple[str, ...]) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps (NaT where missing) and a mask of values present but unreadable."""
    n = len(column)
    if pa.types.is_timestamp(column.type):
        series = column.to_pandas()
        if series.dt.tz is None:
            series = series.dt.tz_localize("UTC")
        return series.dt.tz_convert("UTC").astype("datetime64[us, UTC]"), np.zeros(n, bool)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        column = pc.cast(column, pa.string())
    text = _as_text(column)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    result = pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype="datetime64[us, UTC]")
    todo = present.copy()
    for fmt in formats:
        if not todo.any():
            break
        parsed = _parse_times(text, fmt, todo)
        got = todo & parsed.notna().to_numpy()
        result[got] = parsed[got]
        todo &= ~got
    return result, todo


def _parse_times(text: pa.ChunkedArray, fmt: str, todo: np.ndarray) -> pd.Series:
    n = len(text)
    if fmt in ("epoch_s", "epoch_ms"):
        values, _ = _to_float(text)
        scale = 1e6 if fmt == "epoch_s" else 1e3
        micros = np.where(np.isfinite(values), values * scale, np.nan)
        ok = np.isfinite(micros) & (np.abs(micros) < 4e15)  # within +-100 years of 1970
        out = pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype="datetime64[us, UTC]")
        out[ok] = pd.to_datetime(micros[ok].astype("int64"), unit="us", utc=True)
        return out
    if fmt == "ISO8601":
        for target in (pa.timestamp("us"), pa.timestamp("us", "UTC")):
            try:
                return _timestamps_to_utc(pc.cast(text, target))
            except pa.ArrowInvalid:
                continue
        series = text.to_pandas()
        return pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce").astype(
            "datetime64[us, UTC]"
        )
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    return _timestamps_to_utc(parsed)


def _timestamps_to_utc(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    series = pd.Series(values.to_pandas())
    if series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    return series.dt.tz_convert("UTC").astype("datetime64[us, UTC]").reset_index(drop=True)


def frame_from_table(
    table: pa.Table,
    layout: Layout,
    line_no: np.ndarray,
    received_at: datetime | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical records from an arrow table of source columns, and the (line_no, reason,
    detail) of the rows refused while reading their values."""
    n = table.num_rows
    data: dict[str, object] = {"line_no": line_no, "n_lines": np.ones(n, dtype="int32")}
    data["kind"] = pd.array(["position"] * n, dtype=TEXT)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def refuse(mask: np.ndarray, why: str, column: str, values: pa.ChunkedArray) -> None:
        new = mask & pd.isna(reason)
        if new.any():
            reason[new] = why
            shown = values.to_pandas().to_numpy()[new]
            detail[new] = [f"{column}={v!r}" for v in shown]

    for name, source in layout.columns.items():
        column = table.column(source)
        tokens = layout.null_tokens.get(name, frozenset())
        if name in ("ts", "eta"):
            if tokens:
                column = _drop_tokens(column, tokens)
            formats = layout.timestamp_formats if name == "ts" else layout.eta_formats
            values, bad = _to_utc(column, formats)
            if name == "ts":
                refuse(bad, "bad_timestamp", source, column)
            data[name] = values.array
        elif name in layout.text_codes:
            codes = layout.text_codes[name]
            text = _drop_tokens(column, tokens).to_pandas()
            data[name] = text.map(codes).to_numpy(dtype="float64", na_value=np.nan)
        elif name in NUMERIC_FIELDS:
            if tokens:
                column = _drop_tokens(column, tokens)
            values, bad = _to_float(column)
            if name in REQUIRED_FIELDS:
                refuse(bad, "bad_value", source, column)
            data[name] = values
        else:
            data[name] = pd.arrays.ArrowStringArray(_drop_tokens(column, tokens))

    mmsi = data.get("mmsi")
    if isinstance(mmsi, np.ndarray):
        fractional = np.isfinite(mmsi) & (np.floor(mmsi) != mmsi)
        refuse(
            fractional, "bad_value", layout.columns["mmsi"], table.column(layout.columns["mmsi"])
        )
        data["mmsi"] = pd.array(np.where(np.isfinite(mmsi), mmsi, np.nan), dtype="Float64").astype(
            "Int64"
        )
    if "ts" not in data:
        data["ts"] = pd.array([pd.NaT] * n, dtype="datetime64[us, UTC]")
    if received_at is not None:
        ts = pd.Series(data["ts"]).astype("datetime64[us, UTC]")
        data["ts"] = ts.fillna(pd.Timestamp(received_at).tz_convert("UTC")).array
    if layout.station_column and layout.non_vessel_stations:
        station = _as_text(table.column(layout.station_column))
        not_vessel = pc.is_in(station, value_set=pa.array(sorted(layout.non_vessel_stations)))
        mask = not_vessel.to_numpy(zero_copy_only=False).astype(bool)
        # a structural fact about the station: it goes before any value error
        reason[mask] = "not_a_vessel"
        detail[mask] = [f"{layout.station_column}={v!r}" for v in station.to_pandas()[mask]]
    records = conform(pd.DataFrame(data))
    refused = pd.notna(reason)
    rejects = pd.DataFrame(
        {
            "line_no": line_no[refused],
            "reason": reason[refused].astype(str),
            "detail": detail[refused],
        }
    )
    return records[~refused].reset_index(drop=True), rejects


# --------------------------------------------------------------------------- CSV


def _field_counts(block: LineBlock, delimiter: bytes, quote: bytes = b'"') -> np.ndarray:
    """Number of fields on each line of the block; -1 for a line with an unbalanced quote.

    A delimiter counts when an even number of quotes precede it on its line (RFC 4180
    quoting, where a doubled quote inside a field adds two)."""
    buf = np.frombuffer(block.data, dtype=np.uint8)
    delims = np.flatnonzero(buf == delimiter[0])
    quotes = np.flatnonzero(buf == quote[0])
    lo, hi = np.searchsorted(delims, block.starts), np.searchsorted(delims, block.ends)
    if len(quotes) == 0:
        return hi - lo + 1
    line_of = np.searchsorted(block.starts, delims, side="right") - 1
    quotes_before = np.searchsorted(quotes, delims) - np.searchsorted(quotes, block.starts)[line_of]
    outside = np.zeros(len(delims) + 1, dtype=np.int64)
    outside[1:] = np.cumsum(quotes_before % 2 == 0)
    counts = outside[hi] - outside[lo] + 1
    n_quotes = np.searchsorted(quotes, block.ends) - np.searchsorted(quotes, block.starts)
    counts[n_quotes % 2 == 1] = -1
    return counts


def read_header(src: SourceFile, delimiter: str = ",") -> tuple[int, list[str]]:
    """Line number and column names of the header: the first non-blank line."""
    head = src.head()
    for number, raw in enumerate(head.splitlines(), start=1):
        line = raw.decode("utf-8", "replace").strip().lstrip("\ufeff")
        if line:
            return number, next(csv.reader([line], delimiter=delimiter))
    raise StraitwatchError(f"{src.path}: empty file")


def _column_names(header: list[str]) -> list[str]:
    """Unique names for pyarrow (blank header cells, such as a pandas index, get one)."""
    seen: dict[str, int] = {}
    names = []
    for i, name in enumerate(header):
        name = name.strip().lstrip("\ufeff") or f"_column_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _typed_columns(layout: Layout) -> dict[str, pa.DataType]:
    """Source columns pyarrow can convert itself while parsing (the rest are read as text)."""
    types: dict[str, pa.DataType] = {}
    for name, source in layout.columns.items():
        if name in layout.text_codes or layout.null_tokens.get(name):
            continue
        if name in NUMERIC_FIELDS:
            types[source] = pa.float64()
        elif name == "ts" and not set(layout.timestamp_formats) & {"epoch_s", "epoch_ms"}:
            types[source] = pa.timestamp("us")
    return types


def _parse_csv_lines(data: bytes, names: list[str], layout: Layout, typed: bool) -> pa.Table:
    """Parse lines of a block. `typed`: numbers and times converted by pyarrow (fast; raises
    ArrowInvalid on any value it cannot convert), else every column as text."""
    wanted = [c for c in layout.source_columns if c in names]
    types = dict.fromkeys(wanted, pa.string())
    if typed:
        types.update(_typed_columns(layout))
    read = pacsv.ReadOptions(column_names=names, block_size=max(1 << 20, len(data) + 1))
    parse = pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=False)
    convert = pacsv.ConvertOptions(
        include_columns=wanted,
        column_types=types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        timestamp_parsers=[
            pacsv.ISO8601 if f == "ISO8601" else f for f in layout.timestamp_formats
        ],
    )
    try:
        return pacsv.read_csv(pa.py_buffer(data), read, parse, convert)
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc).upper():
            raise
    # invalid UTF-8 somewhere in the block: read it with the bad bytes replaced
    data = data.decode("utf-8", "replace").encode("utf-8")
    return pacsv.read_csv(pa.py_buffer(data), read, parse, convert)


def _parse_block(
    block: LineBlock, lines: np.ndarray, names: list[str], layout: Layout, typed: bool
) -> pa.Table | None:
    """One pyarrow call for lines `lines` of the block if they all parse and align with the
    lines (one row per line); None otherwise."""
    if lines[-1] - lines[0] + 1 == len(lines):  # one run of lines (the usual case)
        payload = block.data[block.starts[lines[0]] : block.ends[lines[-1]]]
    else:
        starts, ends = block.starts[lines], block.ends[lines]
        payload = b"\n".join(block.data[s:e] for s, e in zip(starts, ends, strict=True))
    try:
        table = _parse_csv_lines(payload, names, layout, typed)
    except pa.ArrowInvalid:
        return None
    return table if table.num_rows == len(lines) else None


def iter_csv_batches(
    src: SourceFile,
    layout: Layout,
    *,
    received_at: datetime | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[Batch]:
    """Read a delimited text file in blocks of lines, one `Batch` per block.

    Each block is parsed optimistically in one pyarrow call with numbers and times converted
    on the way; only when that fails (a malformed line, a value pyarrow cannot convert, a
    quoted newline) are its lines checked one by one (field counts, with NumPy) and parsed
    as text, so that each bad line is refused with its own reason."""
    header_line, header = read_header(src, layout.delimiter)
    names = _column_names(header)
    absent = [c for c in layout.source_columns if c not in names]
    if absent:
        raise StraitwatchError(
            f"{src.path}: column(s) {', '.join(repr(c) for c in absent)} of mapping "
            f"{layout.name} not in the header (line {header_line})"
        )
    delimiter = layout.delimiter.encode()
    typed = True
    with src.open() as stream:
        for block in iter_line_blocks(stream, block_bytes=block_bytes):
            numbers = block.line_numbers
            data_line = (numbers > header_line) & (block.ends > block.starts)
            rejects = []
            index = np.flatnonzero(data_line)
            table = None
            if len(index) and typed:
                table = _parse_block(block, index, names, layout, typed=True)
                typed = table is not None  # text from now on: this file needs it
            if table is None and len(index):
                counts = _field_counts(block, delimiter)
                good = data_line & (counts == len(names))
                bad = data_line & ~good
                rejects.append(
                    make_rejects(
                        numbers[bad],
                        block.text(np.flatnonzero(bad)),
                        "malformed_row",
                        [
                            f"{c} fields, header has {len(names)}" if c >= 0 else "unbalanced quote"
                            for c in counts[bad]
                        ],
                    )
                )
                index = np.flatnonzero(good)
                if len(index):
                    table = _parse_block(block, index, names, layout, typed=False)
                    if table is None:
                        raise StraitwatchError(
                            f"{src.path}: cannot parse lines {numbers[0]}-{numbers[-1]}"
                        )
            if table is None:
                yield Batch(conform(pd.DataFrame()), _concat_rejects(rejects), _block_text(block))
                continue
            records, refused = frame_from_table(table, layout, numbers[index], received_at)
            if len(refused):
                at = np.searchsorted(numbers, refused["line_no"].to_numpy())
                rejects.append(
                    make_rejects(
                        refused["line_no"].to_numpy(),
                        block.text(at),
                        refused["reason"].tolist(),
                        refused["detail"].tolist(),
                    )
                )
            yield Batch(records, _concat_rejects(rejects), _block_text(block))


def _block_text(block: LineBlock) -> Callable[[np.ndarray], list[str]]:
    def text(line_no: np.ndarray) -> list[str]:
        return block.text(np.asarray(line_no, dtype="int64") - block.first_line)

    return text


def _concat_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_rejects()
    return pd.concat(parts, ignore_index=True).sort_values("line_no", kind="stable")


# --------------------------------------------------------------------------- Parquet


def parquet_columns(src: SourceFile) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(src.path).schema_arrow.names)
    except (OSError, pa.ArrowInvalid) as exc:
        raise StraitwatchError(f"cannot read {src.path} as Parquet: {exc}") from exc


def iter_parquet_batches(
    src: SourceFile,
    layout: Layout,
    *,
    received_at: datetime | None = None,
    batch_rows: int = PARQUET_BATCH_ROWS,
) -> Iterator[Batch]:
    """Read a Parquet file in row batches; a record is a row, numbered from 1."""
    import pyarrow.parquet as pq

    names = parquet_columns(src)
    absent = [c for c in layout.source_columns if c not in names]
    if absent:
        raise StraitwatchError(
            f"{src.path}: column(s) {', '.join(repr(c) for c in absent)} of mapping "
            f"{layout.name} not in the Parquet schema"
        )
    first = 1
    try:
        parquet = pq.ParquetFile(src.path)
        for rb in parquet.iter_batches(batch_size=batch_rows, columns=layout.source_columns):
            table = pa.Table.from_batches([rb])
            numbers = np.arange(first, first + table.num_rows, dtype="int64")
            records, refused = frame_from_table(table, layout, numbers, received_at)

            def text(line_no: np.ndarray, table: pa.Table = table, first: int = first) -> list[str]:
                rows = table.take(pa.array(np.asarray(line_no) - first)).to_pylist()
                return [json.dumps(r, default=str, ensure_ascii=False) for r in rows]

            rejects = make_rejects(
                refused["line_no"].to_numpy(),
                text(refused["line_no"].to_numpy()),
                refused["reason"].tolist(),
                refused["detail"].tolist(),
            )
            yield Batch(records, rejects, text)
            first += table.num_rows
    except (OSError, pa.ArrowInvalid) as exc:
        raise StraitwatchError(f"cannot read {src.path} as Parquet: {exc}") from exc


# --------------------------------------------------------------------------- pure entry points


def iter_batches(
    path: Path | str,
    layout: Layout | None = None,
    *,
    mapping: Path | str | None = None,
    received_at: datetime | None = None,
) -> Iterator[Batch]:
    """Batches of a CSV or Parquet file read with `layout` (or a mapping file, or names)."""
    src = inspect(path)
    parquet = src.is_parquet
    fmt = "parquet" if parquet else "csv"
    if layout is None and mapping is not None:
        layout = load_mapping(mapping, fmt)
    if layout is None:
        header = parquet_columns(src) if parquet else read_header(src)[1]
        layout = layout_for_header(header, fmt)
        if layout is None:
            raise StraitwatchError(
                f"{path}: no mapping fits its columns and no well-known names for mmsi, "
                "lat and lon were found; give --mapping FILE"
            )
    if parquet:
        return iter_parquet_batches(src, layout, received_at=received_at)
    return iter_csv_batches(src, layout, received_at=received_at)


def read(
    path: Path | str,
    *,
    mapping: Path | str | None = None,
    received_at: datetime | None = None,
) -> ReadResult:
    """Read a whole CSV / Parquet file into canonical records and rejects (no database)."""
    return collect(iter_batches(path, mapping=mapping, received_at=received_at))
