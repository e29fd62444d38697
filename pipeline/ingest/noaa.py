"""NOAA MarineCadastre AIS CSV (AIS_YYYY_MM_DD.csv/.zip, ais-YYYY-MM-DD.csv.zst) -> records.

Columns are found by name, not position, so every published variant reads:
2018-2023 `MMSI,BaseDateTime,LAT,LON,...,Cargo,TransceiverClass` (`2023-01-11T00:00:00`),
2015-2017 without TransceiverClass (`2017-01-01T00:00:00` or `2017-01-01 00:00:00`),
2025 onwards in snake case (`mmsi,base_date_time,latitude,longitude,...,transceiver`), and
pre-2015 broadcast tables exported from the file geodatabases (`X,Y,...,BaseDateTime,...,MMSI`,
`2014/01/01 00:00:00`). BaseDateTime is UTC. IMO comes as `IMO9307839`; VesselType 0 and
IMO0000000 mean not available.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pipeline.errors import StraitwatchError
from pipeline.ingest.records import Batch, ReadResult, collect
from pipeline.ingest.source import SourceFile, inspect
from pipeline.ingest.tabular import Layout, iter_csv_batches, normalise_name, read_header

# normalised header name -> canonical field
COLUMNS = {
    "mmsi": "mmsi",
    "basedatetime": "ts",
    "lat": "lat",
    "latitude": "lat",
    "y": "lat",
    "lon": "lon",
    "longitude": "lon",
    "x": "lon",
    "sog": "sog",
    "cog": "cog",
    "heading": "heading",
    "vesselname": "name",
    "imo": "imo",
    "callsign": "callsign",
    "vesseltype": "ship_type",
    "status": "nav_status",
    "draft": "draught_m",
}
TIMESTAMP_FORMATS = ("ISO8601", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S")


def matches(header: list[str]) -> bool:
    names = {normalise_name(h) for h in header}
    return {"mmsi", "basedatetime"} <= names


def layout(header: list[str]) -> Layout:
    """The NOAA layout for this header (any of the published variants)."""
    columns: dict[str, str] = {}
    for col in header:
        target = COLUMNS.get(normalise_name(col))
        if target and target not in columns:
            columns[target] = col
    if not {"mmsi", "ts", "lat", "lon"} <= set(columns):
        raise StraitwatchError(
            "NOAA header needs MMSI, BaseDateTime, LAT/LON (or X/Y): got " + ",".join(header)
        )
    return Layout(name="noaa", fmt="noaa", columns=columns, timestamp_formats=TIMESTAMP_FORMATS)


def iter_batches(
    path: Path | str, *, received_at: datetime | None = None, source: SourceFile | None = None
) -> Iterator[Batch]:
    """Batches of canonical records from a NOAA file (plain, .gz, .bz2, .zst or .zip)."""
    src = source or inspect(path)
    return iter_csv_batches(src, layout(read_header(src)[1]), received_at=received_at)


def read(path: Path | str, *, received_at: datetime | None = None) -> ReadResult:
    """Read a whole NOAA file into canonical records and rejects (no database)."""
    return collect(iter_batches(path, received_at=received_at))
