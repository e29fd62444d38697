"""Deterministic synthetic AIS traffic through chokepoint gates, for the detection benchmark.

Each vessel shuttles through one chokepoint: from a point well out on side A, along the
chokepoint's fairway (or through the middle of every gate in order), to a point well out on
side B, and back, at a steady speed with jittered
reporting intervals. Approaches are long (100-300 nm), so most fixes are in open water as in
real traffic. Some vessels go silent for hours (AIS gaps, some of them across the gates), some
report a few spoofed positions far away, and some loiter on a gate line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

NM_PER_DEG = 60.0


def _unwrapped(coords: np.ndarray) -> np.ndarray:
    """Longitudes made continuous, so a line across the antimeridian stays short."""
    coords = np.array(coords, dtype=float)
    steps = (np.diff(coords[:, 0]) + 180.0) % 360.0 - 180.0
    coords[:, 0] = coords[0, 0] + np.concatenate(([0.0], np.cumsum(steps)))
    return coords


def _routes(chokepoints: pd.DataFrame, gates: pd.DataFrame) -> list[tuple[np.ndarray, list]]:
    """One route per chokepoint, (lon, lat) waypoints from side A to side B, with its gates:
    the chokepoint's fairway where the seeds give one, else through the middle of every gate."""
    routes = []
    for _, cp in chokepoints.iterrows():
        g = gates[gates["chokepoint_id"] == cp["chokepoint_id"]].sort_values("seq")
        lines = [shapely.LineString(_unwrapped(line.coords)) for line in g["geometry"]]
        if not lines:
            continue
        fairway = cp.get("fairway")
        if isinstance(fairway, shapely.LineString) and not fairway.is_empty:
            routes.append((_unwrapped(fairway.coords), lines))
            continue
        mids, normals = [], []
        for line in lines:
            coords = np.asarray(line.coords)
            d = coords[-1] - coords[0]
            d = d / np.hypot(*d)
            normals.append(np.array([-d[1], d[0]]))  # points left: side A
            mids.append(np.asarray(line.interpolate(0.5, normalized=True).coords[0]))
        route = np.array([mids[0] + normals[0] * 0.02, *mids, mids[-1] - normals[-1] * 0.02])
        routes.append((route, lines))
    return routes


def _first_gate_along(path: np.ndarray, along: np.ndarray, lines: list) -> float | None:
    """Distance along the path (in its units) at which it first meets one of the lines."""
    for k in range(len(path) - 1):
        segment = shapely.LineString(path[k : k + 2])
        for line in lines:
            hit = segment.intersection(line)
            if not hit.is_empty:
                point = np.asarray(shapely.get_coordinates(hit)[0])
                f = np.hypot(*(point - path[k])) / max(np.hypot(*(path[k + 1] - path[k])), 1e-12)
                return float(along[k] + f * (along[k + 1] - along[k]))
    return None


def generate(
    chokepoints: pd.DataFrame,
    gates: pd.DataFrame,
    n_positions: int,
    *,
    seed: int = 20240305,
    fixes_per_vessel: int = 2000,
) -> pd.DataFrame:
    """About n_positions fixes (columns of a positions frame, sorted by mmsi and ts)."""
    rng = np.random.default_rng(seed)
    routes = _routes(chokepoints, gates)
    n_vessels = max(1, n_positions // fixes_per_vessel)
    t0 = np.datetime64("2024-03-01T00:00:00", "us").astype(np.int64)
    frames = []
    for v in range(n_vessels):
        route, lines = routes[v % len(routes)]
        # the route's far ends: extend 100-300 nm beyond its first and last waypoints
        out_a = route[0] - route[1]
        out_a = out_a / np.hypot(*out_a)
        out_b = route[-1] - route[-2]
        out_b = out_b / np.hypot(*out_b)
        cos = np.cos(np.radians(route[:, 1].mean()))
        scale = np.array([1.0 / cos, 1.0]) / NM_PER_DEG
        a = route[0] + out_a * scale * rng.uniform(100, 300)
        b = route[-1] + out_b * scale * rng.uniform(100, 300)
        jitter = rng.normal(0.0, 0.002, route.shape)
        one_way = np.vstack([a, route + jitter, b])
        path = np.vstack([one_way, one_way[-2::-1], one_way[1:], one_way[-2::-1]])
        if v % 2:
            path = path[::-1]
        # distance along the path in nm (flat metric, fine at these scales)
        step = np.diff(path, axis=0)
        step_nm = np.hypot(step[:, 0] * cos, step[:, 1]) * NM_PER_DEG
        along = np.concatenate(([0.0], np.cumsum(step_nm)))
        speed_kn = rng.uniform(8, 20)
        dt_s = rng.uniform(20, 180, fixes_per_vessel)
        t_s = np.cumsum(dt_s) - dt_s[0]
        kind = v % 20
        run_s = t_s.copy()
        stop_nm = _first_gate_along(path, along, lines) if kind == 11 else None
        if stop_nm is not None:  # stops on a gate line for 8 hours, drifting about it
            stop_at = stop_nm / speed_kn * 3600.0
            run_s = np.where(t_s < stop_at, t_s, np.maximum(stop_at, t_s - 8 * 3600.0))
        dist = np.minimum(run_s * speed_kn / 3600.0, along[-1] - 1e-9)
        lon = np.interp(dist, along, path[:, 0])
        lat = np.interp(dist, along, path[:, 1])
        sog = np.full(fixes_per_vessel, speed_kn)
        if kind == 3:  # silent for 8-30 hours somewhere
            k = rng.integers(100, fixes_per_vessel - 100)
            t_s[k:] += rng.uniform(8, 30) * 3600.0
        elif kind == 7:  # a few spoofed fixes 3 degrees away
            k = rng.integers(100, fixes_per_vessel - 100)
            lat[k : k + 3] += 3.0
        elif stop_nm is not None:
            stopped = np.flatnonzero(np.diff(run_s, prepend=-1.0) == 0)
            drift = np.cumsum(rng.normal(0.0, 0.0001, (len(stopped), 2)), axis=0)
            lon[stopped] += drift[:, 0]
            lat[stopped] += drift[:, 1]
            sog[stopped] = 0.3
        frames.append(
            (
                np.full(fixes_per_vessel, 201_000_000 + v, dtype=np.int64),
                t0 + np.round(t_s * 1e6).astype(np.int64) + v * 1_000_000,
                lat,
                (lon + 180.0) % 360.0 - 180.0,
                sog,
            )
        )
    mmsi, ts, lat, lon, sog = (np.concatenate(c) for c in zip(*frames, strict=True))
    n = len(mmsi)
    return pd.DataFrame(
        {
            "mmsi": mmsi,
            "ts": pd.DatetimeIndex(ts.astype("datetime64[us]")).tz_localize("UTC"),
            "lat": np.clip(lat, -90.0, 90.0),
            "lon": lon,
            "sog": sog,
            "cog": np.full(n, np.nan),
            "heading": pd.array(np.full(n, pd.NA), dtype="Int16"),
            "nav_status": pd.array(np.zeros(n, dtype=np.int16), dtype="Int16"),
        }
    )


def gate_frames(chokepoints: pd.DataFrame, gates: pd.DataFrame) -> pd.DataFrame:
    """Gates with Shapely geometry whatever the input carried (geometry or wkt)."""
    if "geometry" not in gates.columns:
        gates = gates.assign(geometry=shapely.from_wkt(gates["wkt"].to_numpy(dtype=object)))
    return gates
