"""Write simulated fixes as NOAA MarineCadastre AIS CSV, one file per UTC day as NOAA publishes.

The layout is MarineCadastre's 2018-onwards one: the header below, times as
`YYYY-MM-DDTHH:MM:SS` (UTC, no zone), 5 decimals of latitude and longitude, 1 of speed and
course, heading 511 when not available, IMO as `IMO9268710`, static fields repeated on every
row, rows in time order. Files are named `AIS_YYYY_MM_DD.csv` like NOAA's daily files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

NOAA_COLUMNS = (
    "MMSI",
    "BaseDateTime",
    "LAT",
    "LON",
    "SOG",
    "COG",
    "Heading",
    "VesselName",
    "IMO",
    "CallSign",
    "VesselType",
    "Status",
    "Length",
    "Width",
    "Draft",
    "Cargo",
    "TransceiverClass",
)


def noaa_rows(fixes: pd.DataFrame, vessels: pd.DataFrame) -> pd.DataFrame:
    """Fixes (mmsi, ts, lat, lon, sog, cog, heading, status) as NOAA columns, in time order."""
    static = vessels.set_index("mmsi")
    order = np.lexsort((fixes["mmsi"].to_numpy(), fixes["ts"].to_numpy()))
    f = fixes.iloc[order]
    v = static.loc[f["mmsi"].to_numpy()]
    imo = v["imo"].astype("string")
    return pd.DataFrame(
        {
            "MMSI": f["mmsi"].to_numpy(),
            "BaseDateTime": f["ts"].to_numpy().astype("datetime64[s]").astype(str),
            "LAT": f["lat"].round(5).to_numpy(),
            "LON": f["lon"].round(5).to_numpy(),
            "SOG": f["sog"].round(1).to_numpy(),
            "COG": f["cog"].round(1).to_numpy() % 360.0,
            "Heading": f["heading"].round(0).to_numpy().astype("float64"),
            "VesselName": v["name"].to_numpy(),
            "IMO": ("IMO" + imo).fillna("").to_numpy(),
            "CallSign": v["callsign"].fillna("").to_numpy(),
            "VesselType": v["ship_type"].astype("int64").to_numpy(),
            "Status": f["status"].astype("float64").to_numpy(),
            "Length": v["length_m"].astype("float64").to_numpy(),
            "Width": v["width_m"].astype("float64").to_numpy(),
            "Draft": v["draught_m"].astype("float64").to_numpy(),
            "Cargo": v["ship_type"].astype("float64").to_numpy(),
            "TransceiverClass": v["transceiver_class"].to_numpy(),
        },
        columns=list(NOAA_COLUMNS),
    )


def write_daily_files(fixes: pd.DataFrame, vessels: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One AIS_YYYY_MM_DD.csv per UTC day that has fixes. Returns the paths, in date order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = noaa_rows(fixes, vessels)
    day = np.sort(fixes["ts"].to_numpy()) // 86400
    bounds = np.flatnonzero(np.diff(day)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(day)]])
    paths = []
    for a, b in zip(starts, ends, strict=True):  # one file per day
        name = np.datetime64(int(day[a]), "D").astype(str).replace("-", "_")
        path = out_dir / f"AIS_{name}.csv"
        rows.iloc[a:b].to_csv(path, index=False, lineterminator="\n", na_rep="")
        paths.append(path)
    return paths
