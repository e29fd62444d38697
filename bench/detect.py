"""Detection benchmark: the straitwatch core against a naive Shapely loop, PostGIS and
MovingPandas, on the same synthetic positions through every chokepoint gate in seeds/.

In one run: the core on all positions (at least 10 million at full scale); the naive loop
(`LineString(...).intersects(gate)` for each segment and gate) and MovingPandas (trajectory
segments joined to the gates) on a slice of vessels, their rates per position scaled from the
slice; PostGIS (segments by LAG(), ST_Intersects against the gate geometries) on a larger slice
loaded into a throwaway database. Every method's gate crossings are compared on the data it
shared with the core: they must be the same set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
import psycopg
import shapely

from bench.common import ADMIN_URL, scaled, throwaway_database
from bench.detect_data import gate_frames, generate
from pipeline import db
from pipeline.geo.crossings import GateSet, detect_crossings, gate_crossings
from pipeline.geo.detect import DetectConfig, detect_events
from pipeline.geo.port_calls import PortSet
from pipeline.geo.tracks import build_track

T = TypeVar("T")

FULL_POSITIONS = 10_000_000
NAIVE_POSITIONS = 40_000
MOVINGPANDAS_POSITIONS = 10_000
POSTGIS_POSITIONS = 1_000_000
REPEATS = 3

Key = tuple[int, str, str, int]  # mmsi, chokepoint, gate, segment end (microseconds)


def _reference() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Chokepoints, gates and ports as `straitwatch load-reference` reads them from seeds/."""
    from pipeline.geo.geofences import load_gates
    from pipeline.geo.ports import load_ports

    chokepoints, gates = load_gates()
    return chokepoints, gate_frames(chokepoints, gates), load_ports()


def _best_of(fn: Callable[[], T], repeats: int = REPEATS) -> tuple[float, float, T]:
    """Best wall time and the CPU time of that run (this process, all threads), and a result."""
    best: tuple[float, float, T] | None = None
    for _ in range(max(repeats, 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, result)
    assert best is not None
    return best


def _slice(positions: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first vessels' positions, whole tracks, up to the one holding the n-th position."""
    mmsi = positions["mmsi"].to_numpy()
    cut = int(np.searchsorted(mmsi, mmsi[min(n, len(mmsi)) - 1], side="right"))
    return positions.iloc[:cut]


def _core_keys(positions: pd.DataFrame, gates: GateSet) -> set[Key]:
    """Gate-level crossings of the core on raw consecutive segments (no fix rejected), the
    same segments the other methods see."""
    track = build_track(positions, max_speed_kn=1e9, segment_index=gates.fine)
    out = gate_crossings(track, gates, max_speed_kn=1e9)
    return set(
        zip(
            out["mmsi"].tolist(),
            out["chokepoint_id"].tolist(),
            out["gate"].tolist(),
            _us(out["next_ts"]).tolist(),
            strict=True,
        )
    )


def _us(ts: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(ts).as_unit("us").asi8


def naive_shapely(positions: pd.DataFrame, gates: pd.DataFrame) -> set[Key]:
    """One LineString per segment, tested against every gate."""
    mmsi = positions["mmsi"].to_numpy()
    lon, lat = positions["lon"].to_numpy(), positions["lat"].to_numpy()
    ts = _us(positions["ts"])
    lines = list(gates["geometry"])
    names = list(zip(gates["chokepoint_id"], gates["gate"], strict=True))
    found: set[Key] = set()
    for i in range(1, len(mmsi)):
        if mmsi[i] != mmsi[i - 1]:
            continue
        segment = shapely.LineString([(lon[i - 1], lat[i - 1]), (lon[i], lat[i])])
        for line, (cp, gate) in zip(lines, names, strict=True):
            if segment.intersects(line):
                found.add((int(mmsi[i]), cp, gate, int(ts[i])))
    return found


def movingpandas(positions: pd.DataFrame, gates: pd.DataFrame) -> set[Key]:
    """Trajectories, their segments as lines, a spatial join with the gates."""
    import warnings

    import geopandas as gpd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optional dependencies it does not need here
        import movingpandas as mpd

    # MovingPandas keeps naive times: hand it UTC without the zone rather than let it drop it
    frame = positions[["mmsi", "ts", "lon", "lat"]].assign(
        ts=positions["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    )
    points = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    )
    trajectories = mpd.TrajectoryCollection(points, traj_id_col="mmsi", t="ts")
    segments = trajectories.to_line_gdf()
    lines = gpd.GeoDataFrame(
        gates[["chokepoint_id", "gate"]], geometry=list(gates["geometry"]), crs="EPSG:4326"
    )
    hits = gpd.sjoin(segments, lines, predicate="intersects")
    t = pd.DatetimeIndex(hits["t"])
    return set(
        zip(
            hits["mmsi"].astype(int).tolist(),
            hits["chokepoint_id"].tolist(),
            hits["gate"].tolist(),
            t.as_unit("us").asi8.tolist(),
            strict=True,
        )
    )


POSTGIS_QUERY = """
SELECT s.mmsi, g.chokepoint_id, g.gate, (extract(epoch FROM s.ts) * 1000000)::bigint
FROM (
    SELECT mmsi, ts, lon, lat,
           lag(lon) OVER w AS prev_lon, lag(lat) OVER w AS prev_lat
    FROM bench_positions
    WINDOW w AS (PARTITION BY mmsi ORDER BY ts)
) AS s
JOIN bench_gates AS g
  ON ST_Intersects(
       ST_SetSRID(ST_MakeLine(ST_MakePoint(s.prev_lon, s.prev_lat),
                              ST_MakePoint(s.lon, s.lat)), 4326),
       g.geom)
WHERE s.prev_lon IS NOT NULL
"""


def _timed(
    method: Callable[[pd.DataFrame, pd.DataFrame], set[Key]], rows: pd.DataFrame, gates
) -> tuple[float, set[Key]]:
    wall, _, found = _best_of(lambda: method(rows, gates), repeats=1)
    return wall, found


def _has_postgis() -> bool:
    """Whether the benchmark server can install PostGIS (extensions are server-wide)."""
    with psycopg.connect(ADMIN_URL) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
    return row is not None


def postgis(positions: pd.DataFrame, gates: pd.DataFrame) -> tuple[float, set[Key]]:
    """Load the rows into a throwaway PostGIS database and time the crossing query alone."""
    with throwaway_database(migrate=False) as url, psycopg.connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(
            "CREATE TABLE bench_positions (mmsi integer, ts timestamptz, lat float8, lon float8)"
        )
        conn.execute(
            "CREATE TABLE bench_gates "
            "(chokepoint_id text, gate text, geom geometry(LineString, 4326))"
        )
        db.copy_frame(conn, "bench_positions", positions, ["mmsi", "ts", "lat", "lon"])
        g = gates.assign(wkt=[f"SRID=4326;{line.wkt}" for line in gates["geometry"]])
        db.copy_frame(conn, "bench_gates", g.rename(columns={"wkt": "geom"}),
                      ["chokepoint_id", "gate", "geom"])  # fmt: skip
        conn.execute("CREATE INDEX ON bench_gates USING gist (geom)")
        conn.execute("CREATE INDEX ON bench_positions (mmsi, ts)")
        conn.commit()
        conn.execute("ANALYZE bench_positions")
        conn.execute("ANALYZE bench_gates")
        conn.commit()
        start = time.perf_counter()
        rows = conn.execute(POSTGIS_QUERY).fetchall()
        seconds = time.perf_counter() - start
    return seconds, {(int(m), cp, gate, int(t)) for m, cp, gate, t in rows}


def _across_antimeridian(gates: pd.DataFrame) -> set[tuple[str, str]]:
    """Gates drawn across 180 degrees: the peers take their lon/lat lines literally (around
    the globe) and have no notion of the short way, so those gates are left out of the check."""
    out = set()
    for cp, gate, line in zip(
        gates["chokepoint_id"], gates["gate"], gates["geometry"], strict=True
    ):
        x = np.asarray(line.coords)[:, 0]
        if len(x) > 1 and np.abs(np.diff(x)).max() > 180.0:
            out.add((cp, gate))
    return out


def _compare(name: str, theirs: set[Key], ours: set[Key], skip: set[tuple[str, str]]) -> bool:
    theirs = {k for k in theirs if (k[1], k[2]) not in skip}
    ours = {k for k in ours if (k[1], k[2]) not in skip}
    same = theirs == ours
    if not same:
        print(
            f"   {name}: {len(theirs)} crossings, core {len(ours)}; only {name} "
            f"{sorted(theirs - ours)[:3]}, only core {sorted(ours - theirs)[:3]}"
        )
    return same


def run(
    chokepoints: pd.DataFrame | None = None,
    gates: pd.DataFrame | None = None,
    ports: pd.DataFrame | None = None,
) -> dict[str, object]:
    """Run every method on the same generated positions; return the figures."""
    if chokepoints is None or gates is None or ports is None:
        chokepoints, gates, ports = _reference()
    gates = gate_frames(chokepoints, gates)
    n_total = scaled(FULL_POSITIONS)
    started = time.perf_counter()
    positions = generate(chokepoints, gates, n_total)
    n = len(positions)
    print(
        f"   {n:,} positions of {positions['mmsi'].nunique():,} vessels through "
        f"{len(gates)} gates of {len(chokepoints)} chokepoints "
        f"(generated in {time.perf_counter() - started:.1f} s)"
    )
    gate_set = GateSet.from_frames(chokepoints, gates)
    port_set = PortSet.from_frame(ports)

    def core() -> pd.DataFrame:
        track = build_track(positions, segment_index=gate_set.fine)
        return detect_crossings(track, gate_set)[0]

    core_wall, core_cpu, passages = _best_of(core)
    core_rate = n / core_wall
    all_wall, _, events = _best_of(lambda: detect_events(positions, gate_set, port_set))
    print(
        f"   core: {core_rate / 1e6:.1f} M positions/s ({core_wall:.2f} s wall, "
        f"{core_cpu:.2f} s CPU), {len(passages):,} passages; with gaps and port calls "
        f"{n / all_wall / 1e6:.1f} M positions/s"
    )

    peers: list[tuple[str, str, Callable[[pd.DataFrame], tuple[float, set[Key]]], int]] = [
        ("naive Shapely", "naive_shapely", lambda rows: _timed(naive_shapely, rows, gates),
         NAIVE_POSITIONS),
        ("MovingPandas", "movingpandas", lambda rows: _timed(movingpandas, rows, gates),
         MOVINGPANDAS_POSITIONS),
    ]  # fmt: skip
    if _has_postgis():
        peers.append(("PostGIS", "postgis", lambda rows: postgis(rows, gates), POSTGIS_POSITIONS))
    else:
        print("   PostGIS: not available on this server, that peer is skipped")
    skip = _across_antimeridian(gates)
    figures: dict[str, object] = {
        "detect_positions": n,
        "detect_positions_per_s": round(core_rate),
        "detect_cpu_positions_per_s": round(n / core_cpu),
        "detect_all_events_positions_per_s": round(n / all_wall),
        "detect_passages": len(passages),
        "detect_gaps": len(events.gaps),
    }
    agree = True
    for name, key, method, size in peers:
        rows = _slice(positions, scaled(size))
        wall, found = method(rows)
        rate = len(rows) / wall
        agree &= _compare(name, found, _core_keys(rows, gate_set), skip)
        print(
            f"   {name}: {rate:,.0f} positions/s on {len(rows):,} positions "
            f"({len(found):,} gate crossings); core is {core_rate / rate:,.0f}x faster"
        )
        figures[f"detect_{key}_positions_per_s"] = round(rate)
        figures[f"detect_vs_{key}"] = round(core_rate / rate, 1)
    print(f"   all methods found the same gate crossings: {agree}")
    figures["detect_methods_agree"] = agree
    figures["detect_config"] = str(DetectConfig())
    return figures
