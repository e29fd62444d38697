"""Ingest benchmark: `straitwatch ingest` of a NOAA-layout day against its peers.

A deterministic generator writes one day of US coastal AIS in the NOAA MarineCadastre layout
(5,000,000 rows at BENCH_SCALE=1, into bench-data/). In one run the same file is loaded
  * by `psql \\copy` into a bare table with the same 17 columns: the physical limit here;
  * by `straitwatch ingest` (ingest_file in a child process: its time and peak RSS);
  * by pandas `DataFrame.to_sql(method="multi")` on a slice, rate scaled to the file;
COPY and ingest each run twice (the faster run counts, to damp other load on the machine);
and, to show where the time goes, by `straitwatch ingest` into a day whose partition already
exists (every fix checked against the unique (mmsi, ts) index as it goes in), and on a fifth of
the file (peak memory must not grow with the file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from bench.common import WORK_DIR, scaled, throwaway_database

T = TypeVar("T")
ROWS = 5_000_000
TO_SQL_ROWS = 20_000
REPEATS = 2  # COPY and ingest each run twice, the faster counts: the machine may be shared
SEED = 20230111
DAY = np.datetime64("2023-01-11T00:00:00", "s")
HEADER = [
    "MMSI", "BaseDateTime", "LAT", "LON", "SOG", "COG", "Heading", "VesselName", "IMO",
    "CallSign", "VesselType", "Status", "Length", "Width", "Draft", "Cargo", "TransceiverClass",
]  # fmt: skip
BARE_TABLE = """CREATE TABLE bare (
    mmsi integer, basedatetime timestamp, lat double precision, lon double precision,
    sog real, cog real, heading real, vesselname text, imo text, callsign text,
    vesseltype smallint, status smallint, length real, width real, draft real, cargo smallint,
    transceiverclass text)"""


# --------------------------------------------------------------------------- data


def _imo_with_check_digit(base: np.ndarray) -> np.ndarray:
    digits = np.stack([(base // 10**p) % 10 for p in range(5, -1, -1)], axis=1)
    check = (digits * np.arange(7, 1, -1)).sum(axis=1) % 10
    return base * 10 + check


def generate(path: Path, rows: int, seed: int = SEED) -> Path:
    """Write `rows` NOAA-layout fixes of one day, sorted by time, no (mmsi, ts) repeated."""
    rng = np.random.default_rng(seed)
    vessels = max(50, rows // 330)  # about 330 fixes per vessel: one every ~4 minutes
    mmsi = np.sort(rng.choice(np.arange(201_000_000, 775_999_999, 37), vessels, replace=False))
    per_vessel = rng.multinomial(rows, np.full(vessels, 1 / vessels))
    per_vessel = np.minimum(per_vessel, 86_400)  # at most one fix per second
    rows = int(per_vessel.sum())
    owner = np.repeat(np.arange(vessels), per_vessel)
    # distinct seconds of the day per vessel: random increasing steps squeezed into one day,
    # then the whole track shifted by a random offset (modulo a day: still distinct)
    first = np.concatenate([[0], np.cumsum(per_vessel)[:-1]])
    cum = np.cumsum(rng.random(rows) + 0.1)
    base = np.repeat(np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0), per_vessel)
    total = np.repeat(np.add.reduceat(np.diff(np.concatenate([[0.0], cum])), first), per_vessel)
    rank = np.arange(rows) - np.repeat(first, per_vessel)
    room = 86_400 - np.repeat(per_vessel, per_vessel)
    seconds = np.floor((cum - base) / total * room).astype(np.int64) + rank
    seconds = (seconds + np.repeat(rng.integers(0, 86_400, vessels), per_vessel)) % 86_400
    order = np.argsort(seconds, kind="stable")
    owner, seconds = owner[order], seconds[order]

    lat0 = rng.uniform(24.0, 48.0, vessels)
    lon0 = rng.uniform(-125.0, -67.0, vessels)
    frac = seconds / 86_400
    table = pa.table(
        {
            "MMSI": mmsi[owner],
            "BaseDateTime": (DAY + seconds.astype("timedelta64[s]")).astype(str),
            "LAT": np.round(lat0[owner] + 0.8 * frac * np.sin(owner), 5),
            "LON": np.round(lon0[owner] + 0.8 * frac * np.cos(owner), 5),
            "SOG": np.round(rng.gamma(2.0, 4.0, rows), 1),
            "COG": np.round(rng.uniform(0, 360, rows), 1),
            "Heading": np.where(rng.random(rows) < 0.3, 511.0, rng.integers(0, 360, rows)),
            "VesselName": pa.array([f"BENCH VESSEL {i}" for i in range(vessels)]).take(owner),
            "IMO": pa.array(
                [f"IMO{v}" for v in _imo_with_check_digit(rng.integers(900_000, 999_999, vessels))]
            ).take(owner),
            "CallSign": pa.array([f"WDA{i:04d}" for i in range(vessels)]).take(owner),
            "VesselType": rng.choice([30, 31, 52, 60, 70, 80, 90], vessels)[owner],
            "Status": rng.choice([0.0, 1.0, 5.0, 15.0], rows),
            "Length": np.round(rng.uniform(10, 300, vessels), 0)[owner],
            "Width": np.round(rng.uniform(3, 45, vessels), 0)[owner],
            "Draft": np.round(rng.uniform(1, 15, vessels), 1)[owner],
            "Cargo": rng.choice([0.0, 70.0, 80.0], vessels)[owner],
            "TransceiverClass": np.where(rng.random(vessels) < 0.8, "A", "B")[owner],
        }
    )
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="none"))
    tmp.replace(path)
    return path


def dataset(rows: int) -> Path:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / f"noaa_bench_{rows}_{SEED}.csv"
    if not path.exists():
        print(f"   generating {rows:,} rows -> {path}", flush=True)
        generate(path, rows)
    return path


def head_of(path: Path, rows: int) -> Path:
    """The header and the first `rows` lines of `path`, as a file of its own."""
    out = path.with_name(f"{path.stem}_head{rows}.csv")
    if not out.exists():
        with path.open("rb") as src, out.open("wb") as dst:
            for _ in range(rows + 1):
                dst.write(src.readline())
    return out


# --------------------------------------------------------------------------- runs


def run_psql_copy(url: str, path: Path) -> float:
    psql = shutil.which("psql")
    if psql is None:
        raise RuntimeError("psql is not installed: the COPY baseline needs it")
    subprocess.run([psql, "-q", "-d", url, "-c", BARE_TABLE], check=True)
    start = time.perf_counter()
    subprocess.run(
        [psql, "-q", "-d", url, "-c", f"\\copy bare FROM '{path}' WITH (FORMAT csv, HEADER true)"],
        check=True,
    )
    return time.perf_counter() - start


def run_ingest(url: str, path: Path, *, existing_day: bool = False) -> dict[str, float]:
    """ingest_file in a child process: its own timing and peak RSS, and the wall time."""
    args = [sys.executable, "-m", "bench.ingest", "child", url, str(path)]
    if existing_day:
        args.append("--existing-day")
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read() if child.stdout else ""
    code = child.wait()
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"ingest child failed: {out}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["wall_seconds"] = wall
    return figures


def child(url: str, path: str, existing_day: bool) -> None:
    from datetime import date

    from pipeline import db
    from pipeline.ingest.load import ingest_file

    with db.connect(url) as conn:
        db.upgrade(conn)
        if existing_day:
            db.ensure_position_partitions(conn, [date(2023, 1, 11)])
            conn.commit()
        start = time.perf_counter()
        result = ingest_file(conn, path)
        seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read": result.rows_read,
                "loaded": result.rows_loaded,
                "rejected": result.rows_rejected,
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
    )


def _peak_rss_mb() -> float:
    """This process's peak resident set since it started (VmHWM; unlike ru_maxrss it does
    not count the parent's pages this process held between fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_to_sql(url: str, path: Path, rows: int) -> float:
    from sqlalchemy import create_engine

    frame = pd.read_csv(path, nrows=rows)
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(url))
    try:
        start = time.perf_counter()
        frame.to_sql("bench_to_sql", engine, method="multi", chunksize=1000, index=False)
        return time.perf_counter() - start
    finally:
        engine.dispose()


def _once(step: Callable[[str], T], *, migrate: bool = True) -> T:
    with throwaway_database(migrate=migrate) as url:
        return step(url)


def run() -> dict[str, object]:
    rows = scaled(ROWS)
    path = dataset(rows)
    fifth = head_of(path, max(1, rows // 5))

    copy_s = min(_once(lambda url: run_psql_copy(url, path), migrate=False) for _ in range(REPEATS))
    copy_rate = rows / copy_s
    print(
        f"   psql \\copy (bare table):     {copy_rate:12,.0f} rows/s  ({copy_s:.1f} s)", flush=True
    )

    full = min(
        (_once(lambda url: run_ingest(url, path)) for _ in range(REPEATS)),
        key=lambda f: f["seconds"],
    )
    if full["loaded"] != rows:
        raise RuntimeError(f"ingest loaded {full['loaded']} of {rows} rows")
    ingest_rate = rows / full["seconds"]
    print(
        f"   straitwatch ingest:          {ingest_rate:12,.0f} rows/s  ({full['seconds']:.1f} s,"
        f" {full['wall_seconds']:.1f} s with process start), peak RSS {full['peak_rss_mb']:.0f} MB",
        flush=True,
    )

    with throwaway_database() as url:
        small = run_ingest(url, fifth)
    print(f"   ... on a fifth of the file:  peak RSS {small['peak_rss_mb']:.0f} MB", flush=True)

    with throwaway_database() as url:
        existing = run_ingest(url, fifth, existing_day=True)
    existing_rate = small["read"] / existing["seconds"]
    print(
        f"   ingest into an existing day: {existing_rate:12,.0f} rows/s (fifth of the file, "
        "row-by-row unique index)",
        flush=True,
    )

    slice_rows = min(rows, scaled(TO_SQL_ROWS))
    with throwaway_database(migrate=False) as url:
        to_sql_s = run_to_sql(url, path, slice_rows)
    to_sql_rate = slice_rows / to_sql_s
    print(f"   pandas to_sql(multi):        {to_sql_rate:12,.0f} rows/s  ({slice_rows:,} rows)")

    figures: dict[str, object] = {
        "ingest_rows": rows,
        "ingest_rows_per_s": round(ingest_rate),
        "ingest_seconds": round(full["seconds"], 2),
        "ingest_cli_seconds": round(full["wall_seconds"], 2),
        "copy_rows_per_s": round(copy_rate),
        "to_sql_rows_per_s": round(to_sql_rate),
        "ingest_vs_copy": round(ingest_rate / copy_rate, 3),
        # the CLI as a user runs it, process start (imports, connection, schema check) included,
        # against psql's process, whose start is included in copy_rows_per_s
        "ingest_cli_vs_copy": round(rows / full["wall_seconds"] / copy_rate, 3),
        "ingest_vs_to_sql": round(ingest_rate / to_sql_rate, 1),
        "ingest_peak_rss_mb": round(full["peak_rss_mb"], 1),
        "ingest_peak_rss_mb_fifth": round(small["peak_rss_mb"], 1),
        "ingest_existing_day_rows_per_s": round(existing_rate),
        "ingest_existing_day_vs_copy": round(existing_rate / copy_rate, 3),
    }
    print(
        f"   ratios: ingest / copy = {figures['ingest_vs_copy']} (goal >= 0.7; "
        f"{figures['ingest_cli_vs_copy']} with the CLI's process start), "
        f"ingest / to_sql = {figures['ingest_vs_to_sql']} (goal >= 10)"
    )
    return figures


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], "--existing-day" in sys.argv[4:])
    else:
        print(json.dumps(run(), indent=2))
