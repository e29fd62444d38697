"""The direction a claimed voyage implies through a chokepoint, from sea-route geography.

A report says "left Tartus, passed Gibraltar, bound for St Petersburg" without saying which way
the ship passed. The way is implied by where the ports lie: the shortest sea route from Tartus
to St Petersburg (the `searoute` package, offline) crosses the Gibraltar gate lines from the
Mediterranean side to the Atlantic side, which is Gibraltar's second direction, westbound. With
only one port known, the route from that port to a point just beyond the far side of the
chokepoint tells which side the port is on. Gate lines follow docs/architecture.md: side_a lies
to the left walking a gate from its first vertex to its last; first_direction is side_a -> side_b.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from pipeline.reports.gazetteer import Gazetteer

KM_PER_DEG = 111.195
NM_KM = 1.852


@dataclass(frozen=True)
class ImpliedDirection:
    direction: str | None  # one of the chokepoint's two directions, or None when undetermined
    basis: str  # in words, for the evidence and the claim's phrases


@lru_cache(maxsize=1)
def _searoute():
    # Imported on first use: building its network takes seconds and only direction needs it.
    import searoute

    return searoute


@lru_cache(maxsize=4096)
def sea_route(
    lon1: float, lat1: float, lon2: float, lat2: float
) -> tuple[tuple[float, float], ...]:
    """Shortest sea route (lon, lat vertices) between two points, including the points."""
    feature = _searoute().searoute([lon1, lat1], [lon2, lat2], append_orig_dest=True)
    return tuple((float(x), float(y)) for x, y in feature["geometry"]["coordinates"])


def net_crossings(route: np.ndarray, gates_wkt: list[str]) -> int:
    """Side a -> b crossings minus b -> a crossings of a route (n x 2 lon/lat) over gate lines."""
    if len(route) < 2 or not gates_wkt:
        return 0
    starts, ends = route[:-1], route[1:]
    keep = np.abs(ends[:, 0] - starts[:, 0]) < 180  # drop antimeridian wraps
    starts, ends = starts[keep], ends[keep]
    segments = shapely.linestrings(np.stack([starts, ends], axis=1))
    total = 0
    for wkt in gates_wkt:
        gate = shapely.from_wkt(wkt)
        g = np.asarray(gate.coords)
        gx, gy = g[-1] - g[0]
        hit = shapely.intersects(segments, gate)
        seg = ends[hit] - starts[hit]
        # z < 0: the segment runs from the gate's left (side a) to its right (side b)
        z = gx * seg[:, 1] - gy * seg[:, 0]
        total += int(np.sum(z < 0)) - int(np.sum(z > 0))
    return total


def _anchor(gate_wkt: str, side: str, offset_nm: float) -> tuple[float, float]:
    """A point `offset_nm` beyond the middle of a gate, on side 'a' (left) or 'b' (right)."""
    g = np.asarray(shapely.from_wkt(gate_wkt).coords)
    mid = (g[0] + g[-1]) / 2
    coslat = max(np.cos(np.radians(mid[1])), 0.05)
    dx, dy = (g[-1][0] - g[0][0]) * coslat, g[-1][1] - g[0][1]  # east, north in degrees of arc
    norm = np.hypot(dx, dy) or 1.0
    left = np.array([-dy, dx]) / norm
    step = offset_nm * NM_KM / KM_PER_DEG * (1 if side == "a" else -1)
    return float(mid[0] + left[0] * step / coslat), float(mid[1] + left[1] * step)


def implied_direction(
    gazetteer: Gazetteer,
    chokepoint_id: str,
    from_port_id: str | None,
    to_port_id: str | None,
    *,
    anchor_offset_nm: float = 20.0,
) -> ImpliedDirection:
    """The direction through `chokepoint_id` that a voyage between these ports implies."""
    key = (chokepoint_id, from_port_id, to_port_id, anchor_offset_nm)
    if key not in gazetteer.memo:
        gazetteer.memo[key] = _implied_direction(
            gazetteer, chokepoint_id, from_port_id, to_port_id, anchor_offset_nm
        )
    return gazetteer.memo[key]


def _implied_direction(
    gazetteer: Gazetteer,
    chokepoint_id: str,
    from_port_id: str | None,
    to_port_id: str | None,
    anchor_offset_nm: float,
) -> ImpliedDirection:
    directions = gazetteer.directions(chokepoint_id)
    gates = gazetteer.gates_of.get(chokepoint_id, ())
    name = gazetteer.chokepoint_name(chokepoint_id)
    if directions is None or not gates:
        return ImpliedDirection(None, f"no gate lines for {chokepoint_id} in the reference data")
    wkts = [g["wkt"] for g in gates]
    side_a, side_b = gates[0]["side_a"], gates[-1]["side_b"]

    def position(port_id: str | None) -> tuple[float, float] | None:
        row = gazetteer.port_row(port_id) if port_id else None
        return None if row is None else (float(row["lon"]), float(row["lat"]))

    def verdict(net: int, words: str) -> ImpliedDirection | None:
        if net == 0:
            return None
        first = net > 0
        direction = directions[0] if first else directions[1]
        sides = (side_a, side_b) if first else (side_b, side_a)
        return ImpliedDirection(
            direction, f"{words} crosses {name} from the {sides[0]} to the {sides[1]} side"
        )

    start, end = position(from_port_id), position(to_port_id)
    from_name, to_name = gazetteer.port_name(from_port_id), gazetteer.port_name(to_port_id)
    if start and end:
        route = np.asarray(sea_route(*start, *end))
        found = verdict(net_crossings(route, wkts), f"the sea route {from_name} -> {to_name}")
        if found:
            return found
    anchors = {s: _anchor(wkts[0] if s == "a" else wkts[-1], s, anchor_offset_nm) for s in "ab"}
    if start:
        for s in "ab":
            route = np.asarray(sea_route(*start, *anchors[s]))
            found = verdict(net_crossings(route, wkts), f"the sea route out of {from_name}")
            if found:
                return found
    if end:
        for s in "ab":
            route = np.asarray(sea_route(*anchors[s], *end))
            found = verdict(net_crossings(route, wkts), f"the sea route into {to_name}")
            if found:
                return found
    if not start and not end:
        return ImpliedDirection(None, "no port of the claim has a known position")
    return ImpliedDirection(None, f"no sea route between the claimed ports passes {name}")
