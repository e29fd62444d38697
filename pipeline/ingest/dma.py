"""Danish Maritime Authority `aisdk` CSV -> canonical records.

Header starts `# Timestamp,Type of mobile,MMSI,...` (sometimes after a pandas index column,
and in later years with `A,B,C,D` antenna offsets at the end); times are `dd/mm/YYYY HH:MM:SS`
UTC; navigational status and ship type are text, mapped back to their ITU-R M.1371 codes
(a DMA ship type is a category, stored as the category's base code: Cargo -> 70); `Unknown`
and `Undefined` mean not available. Rows from base stations, aids to navigation and SAR
aircraft (column "Type of mobile") are refused as `not_a_vessel`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pipeline.errors import StraitwatchError
from pipeline.ingest.records import Batch, ReadResult, collect
from pipeline.ingest.source import SourceFile, inspect
from pipeline.ingest.tabular import Layout, iter_csv_batches, normalise_name, read_header

COLUMNS = {
    "timestamp": "ts",
    "mmsi": "mmsi",
    "latitude": "lat",
    "longitude": "lon",
    "navigationalstatus": "nav_status",
    "sog": "sog",
    "cog": "cog",
    "heading": "heading",
    "imo": "imo",
    "callsign": "callsign",
    "name": "name",
    "shiptype": "ship_type",
    "draught": "draught_m",
    "destination": "destination",
    "eta": "eta",
}
NAV_STATUS = {
    "Under way using engine": 0,
    "At anchor": 1,
    "Not under command": 2,
    "Restricted maneuverability": 3,
    "Restricted manoeuvrability": 3,
    "Constrained by her draught": 4,
    "Moored": 5,
    "Aground": 6,
    "Engaged in fishing": 7,
    "Under way sailing": 8,
    "Reserved for future amendment [HSC]": 9,
    "Reserved for future amendment [WIG]": 10,
    "Power-driven vessel towing astern": 11,
    "Power-driven vessel pushing ahead or towing alongside": 12,
    "Reserved for future use": 13,
    "AIS-SART": 14,
    "Unknown value": 15,
}
SHIP_TYPE = {
    "WIG": 20,
    "Fishing": 30,
    "Towing": 31,
    "Towing long/wide": 32,
    "Dredging": 33,
    "Diving": 34,
    "Military": 35,
    "Sailing": 36,
    "Pleasure": 37,
    "HSC": 40,
    "Pilot": 50,
    "SAR": 51,
    "Tug": 52,
    "Port tender": 53,
    "Anti-pollution": 54,
    "Law enforcement": 55,
    "Spare 1": 56,
    "Spare 2": 57,
    "Medical": 58,
    "Not party to conflict": 59,
    "Passenger": 60,
    "Cargo": 70,
    "Tanker": 80,
    "Other": 90,
}
NOT_AVAILABLE = frozenset({"Unknown", "Undefined"})
NON_VESSEL_STATIONS = frozenset({"Base Station", "AtoN", "SAR Airborne"})
DMA_TIME = "%d/%m/%Y %H:%M:%S"


def matches(header: list[str]) -> bool:
    names = {normalise_name(h) for h in header}
    return {"timestamp", "typeofmobile", "mmsi"} <= names


def layout(header: list[str]) -> Layout:
    """The DMA layout for this header."""
    columns: dict[str, str] = {}
    station = None
    for col in header:
        key = normalise_name(col)
        if key == "typeofmobile":
            station = col
        target = COLUMNS.get(key)
        if target and target not in columns:
            columns[target] = col
    if not {"mmsi", "ts", "lat", "lon"} <= set(columns):
        raise StraitwatchError("DMA header needs # Timestamp, MMSI, Latitude, Longitude")
    return Layout(
        name="dma",
        fmt="dma",
        columns=columns,
        timestamp_formats=(DMA_TIME, "ISO8601"),
        eta_formats=(DMA_TIME, "ISO8601"),
        null_tokens={f: NOT_AVAILABLE for f in ("imo", "callsign", "name", "destination")},
        text_codes={"nav_status": NAV_STATUS, "ship_type": SHIP_TYPE},
        station_column=station,
        non_vessel_stations=NON_VESSEL_STATIONS,
    )


def iter_batches(
    path: Path | str, *, received_at: datetime | None = None, source: SourceFile | None = None
) -> Iterator[Batch]:
    """Batches of canonical records from a DMA file (plain, .gz, .bz2, .zst or .zip)."""
    src = source or inspect(path)
    return iter_csv_batches(src, layout(read_header(src)[1]), received_at=received_at)


def read(path: Path | str, *, received_at: datetime | None = None) -> ReadResult:
    """Read a whole DMA file into canonical records and rejects (no database)."""
    return collect(iter_batches(path, received_at=received_at))
