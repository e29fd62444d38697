"""Sea routes for simulated ships: searoute between open-water points, fairways through narrows.

A route is planned as a polyline densified to at most `step_nm` between vertices, with, per
vertex, whether it lies on a fixed piece (a port approach or a fairway, sailed exactly) and the
speed limit there. Ships are then moved off the centre line to starboard by a lane offset in
open water, and every vertex is checked against `global-land-mask`: a route over land is an
error naming where, except inside a port's radius or a narrow fairway's corridor (the mask's
1 km cells cannot resolve a quay, the Bosphorus or a canal).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from global_land_mask import globe

from pipeline.errors import StraitwatchError
from pipeline.geo.distance import haversine_nm
from pipeline.scenario.config import Fairway, LonLat, Port, RoutePoint, Scenario

NM_PER_DEG_LAT = 60.0
M_PER_NM = 1852.0
# Routes are checked against the land mask every CHECK_STEP_NM: well under its cells (0.5 nm
# high, less wide), so a leg cannot clip a headland between two checked points unnoticed.
CHECK_STEP_NM = 0.05
PORT_SPEED_AT_BERTH_KN = 3.0  # ships manoeuvre off the berth slowly...
PORT_SPEED_GAIN_KN_PER_NM = 3.0  # ...and speed up as they clear the harbour


@dataclass(frozen=True)
class Route:
    """A densified polyline with, per vertex, the distance sailed and what constrains it."""

    lon: np.ndarray
    lat: np.ndarray
    cum_nm: np.ndarray
    fixed: np.ndarray  # on a port approach or fairway: sailed exactly, no lane offset
    limit_kn: np.ndarray  # speed limit at the vertex (inf where none)

    @property
    def length_nm(self) -> float:
        return float(self.cum_nm[-1])

    def reversed(self) -> Route:
        """The same route sailed the other way."""
        return Route(
            lon=self.lon[::-1].copy(),
            lat=self.lat[::-1].copy(),
            cum_nm=self.length_nm - self.cum_nm[::-1],
            fixed=self.fixed[::-1].copy(),
            limit_kn=self.limit_kn[::-1].copy(),
        )

    def between(self, start_nm: float, end_nm: float) -> Route:
        """The part of the route from start_nm to end_nm along it."""
        inner = (self.cum_nm > start_nm) & (self.cum_nm < end_nm)
        s = np.concatenate([[start_nm], self.cum_nm[inner], [end_nm]])
        lon = np.interp(s, self.cum_nm, self.lon)
        lat = np.interp(s, self.cum_nm, self.lat)
        idx = np.clip(np.searchsorted(self.cum_nm, s), 0, len(self.cum_nm) - 1)
        return Route(
            lon=lon,
            lat=lat,
            cum_nm=cumulative_nm(lon, lat),
            fixed=self.fixed[idx],
            limit_kn=self.limit_kn[idx],
        )


def cumulative_nm(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    steps = haversine_nm(lat[:-1], lon[:-1], lat[1:], lon[1:])
    return np.concatenate([[0.0], np.cumsum(steps)])


def bearing_deg(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Initial course of each segment (len n-1), degrees clockwise from north."""
    p1, p2 = np.radians(lat[:-1]), np.radians(lat[1:])
    dl = np.radians(np.diff(lon))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(y, x)) % 360.0


def densify(
    lon: np.ndarray, lat: np.ndarray, step_nm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Insert points so that no segment is longer than step_nm.

    Returns lon, lat, and for each output point the input segment it lies on and its fraction
    along it (0 at the segment's first vertex; the last point has fraction 1).
    """
    seg = haversine_nm(lat[:-1], lon[:-1], lat[1:], lon[1:])
    parts = np.maximum(np.ceil(seg / step_nm).astype(np.int64), 1)
    seg_of = np.repeat(np.arange(len(seg)), parts)
    frac = (np.arange(parts.sum()) - np.repeat(np.cumsum(parts) - parts, parts)) / np.repeat(
        parts, parts
    )
    seg_of = np.concatenate([seg_of, [len(seg) - 1]])
    frac = np.concatenate([frac, [1.0]])
    out_lon = lon[seg_of] + (lon[seg_of + 1] - lon[seg_of]) * frac
    out_lat = lat[seg_of] + (lat[seg_of + 1] - lat[seg_of]) * frac
    return out_lon, out_lat, seg_of, frac


@lru_cache(maxsize=2048)
def _searoute(origin: LonLat, destination: LonLat) -> tuple[LonLat, ...]:
    """Shortest sea route on the searoute (Eurostat MARNET) network, endpoints included."""
    import searoute
    from searoute.classes import passages

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feature = searoute.searoute(
            list(origin),
            list(destination),
            units="naut",
            append_orig_dest=True,
            restrictions=[passages.Passage.northwest],
        )
    coords = feature["geometry"]["coordinates"]
    if len(coords) < 2:
        raise StraitwatchError(f"searoute found no sea route from {origin} to {destination}")
    return tuple((float(x), float(y)) for x, y in coords)


class Geography:
    """Routes ships through one scenario's ports, places and fairways."""

    def __init__(self, scenario: Scenario, step_nm: float = 0.5) -> None:
        self.scenario = scenario
        self.step_nm = step_nm
        self._narrow = [f for f in scenario.fairways.values() if f.narrow]

    # ---------------------------------------------------------------- places

    def point(self, ref: RoutePoint) -> LonLat:
        """Where a stop is: a port's berth, a named place or literal coordinates."""
        if not isinstance(ref, str):
            return ref
        if ref.startswith("port:"):
            port, berth = parse_port_ref(self.scenario, ref)
            return port.berths[berth]
        return self.scenario.places[ref]

    def port_of(self, ref: RoutePoint) -> Port | None:
        if isinstance(ref, str) and ref.startswith("port:"):
            return parse_port_ref(self.scenario, ref)[0]
        return None

    # ---------------------------------------------------------------- land

    def forbidden_land(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where a point is on land by the mask and not near a berth or in a narrow fairway."""
        lon = np.asarray(lon, dtype="float64")
        lat = np.asarray(lat, dtype="float64")
        wrapped = (lon + 180.0) % 360.0 - 180.0
        land = np.asarray(globe.is_land(lat, wrapped), dtype=bool)
        if not land.any():
            return land
        idx = np.flatnonzero(land)
        exempt = np.zeros(len(idx), dtype=bool)
        for port in self.scenario.ports.values():
            for blon, blat in port.berths:
                exempt |= haversine_nm(lat[idx], lon[idx], blat, blon) <= port.radius_nm
        for fairway in self._narrow:
            exempt |= _corridor_distance_m(fairway, lon[idx], lat[idx]) <= fairway.half_width_m
        land[idx] = ~exempt
        return land

    def path_on_land(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Per segment of a polyline: whether it touches forbidden land anywhere along it."""
        dlon, dlat, seg, _ = densify(lon, lat, CHECK_STEP_NM)
        bad = self.forbidden_land(dlon, dlat)
        out = np.zeros(max(len(lon) - 1, 0), dtype=bool)
        np.logical_or.at(out, seg, bad)
        return out

    def _at_sea(self, a: LonLat, b: LonLat) -> bool:
        return not self.path_on_land(np.array([a[0], b[0]]), np.array([a[1], b[1]])).any()

    def _connect(self, a: LonLat, b: LonLat) -> list[LonLat]:
        """Open-water connection from a to b, endpoints included: straight if at sea."""
        if a == b:
            return [a]
        if self._at_sea(a, b):
            return [a, b]
        coords = list(_searoute(a, b))
        coords[0], coords[-1] = a, b
        return self._trim_overshoot(coords)

    def _trim_overshoot(self, coords: list[LonLat]) -> list[LonLat]:
        """Drop the ends of a searoute path that run past its endpoints and double back.

        searoute joins each endpoint to the nearest node of its network, which may lie beyond
        it (a ship bound for the Gibraltar narrows would sail on to a node off Tarifa and come
        back). Each endpoint is projected on the rest of the path; the path is cut at the last
        vertex before (first after, for the start) that projection, when the straight way
        from there is at sea.
        """
        if len(coords) < 3:
            return coords
        a, b = coords[0], coords[-1]
        body = coords[:-1]
        at = shapely.LineString(body).project(shapely.Point(b))
        along = _planar_cumulative(body)
        keep = int(np.searchsorted(along, at, side="left"))  # vertices strictly before
        if 1 <= keep < len(body) and self._at_sea(body[keep - 1], b):
            coords = [*body[:keep], b]
        if len(coords) >= 3:
            body = coords[1:]
            at = shapely.LineString(body).project(shapely.Point(a))
            along = _planar_cumulative(body)
            skip = int(np.searchsorted(along, at, side="right"))  # vertices up to it
            if 1 <= skip < len(body) and self._at_sea(a, body[skip]):
                coords = [a, *body[skip:]]
        return [(float(x), float(y)) for x, y in coords]

    # ---------------------------------------------------------------- routes

    def route(self, points: Sequence[RoutePoint]) -> Route:
        """The route through `points` (ports, places, fairways, coordinates), in that order."""
        pieces: list[tuple[list[LonLat], bool, float]] = []  # (points, fixed, limit_kn)
        for i, ref in enumerate(points):
            port = self.port_of(ref)
            if port is not None:
                approach = [self.point(ref), *port.approach]
                if i > 0:
                    approach.reverse()
                pieces.append((approach, True, np.inf))
            elif isinstance(ref, str) and ref.startswith("fairway:"):
                fairway = self.scenario.fairways[ref[8:]]
                pieces.append(
                    (
                        self._oriented(fairway, pieces[-1][0][-1] if pieces else None),
                        True,
                        fairway.max_speed_kn or np.inf,
                    )
                )
            else:
                pieces.append(([self.point(ref)], False, np.inf))

        coords: list[LonLat] = []
        fixed: list[bool] = []
        limit: list[float] = []
        seg_fixed: list[bool] = []  # per segment: inside a fixed piece
        for k, (pts, is_fixed, lim) in enumerate(pieces):
            if k > 0:
                link = self._connect(coords[-1], pts[0])[1:-1]
                for p in link:
                    seg_fixed.append(False)
                    coords.append(p)
                    fixed.append(False)
                    limit.append(np.inf)
            for j, p in enumerate(pts):
                if coords:
                    if p == coords[-1]:
                        continue
                    seg_fixed.append(is_fixed and j > 0)
                coords.append(p)
                fixed.append(is_fixed)
                limit.append(lim)
        if len(coords) < 2:
            raise StraitwatchError(f"route through {list(points)} has no length")
        lon = np.array([c[0] for c in coords])
        lat = np.array([c[1] for c in coords])
        # antimeridian: keep longitudes continuous so interpolation never wraps the globe
        lon = np.degrees(np.unwrap(np.radians(lon)))
        dlon, dlat, seg_of, frac = densify(lon, lat, self.step_nm)
        seg_fixed_arr = np.array(seg_fixed, dtype=bool)
        vertex_fixed = np.array(fixed, dtype=bool)
        vertex_limit = np.array(limit, dtype="float64")
        # original vertices keep their own flags; points inserted inside a segment take the
        # segment's: fixed only inside a fixed piece, limited by the piece's speed limit
        is_vertex = (frac == 0.0) | (frac == 1.0)
        src = seg_of + (frac == 1.0)
        seg_limit = np.where(
            seg_fixed_arr,
            np.minimum(vertex_limit[:-1], vertex_limit[1:]),
            np.inf,
        )
        dfixed = np.where(is_vertex, vertex_fixed[src], seg_fixed_arr[seg_of])
        dlimit = np.where(is_vertex, vertex_limit[src], seg_limit[seg_of])
        cum = cumulative_nm(dlon, dlat)
        dlimit = np.minimum(dlimit, self._port_limits(points, dlon, dlat))
        return Route(lon=dlon, lat=dlat, cum_nm=cum, fixed=dfixed, limit_kn=dlimit)

    def _port_limits(
        self, points: Sequence[RoutePoint], lon: np.ndarray, lat: np.ndarray
    ) -> np.ndarray:
        """Harbour speed: slow at the berth, faster with distance from it."""
        limit = np.full(len(lon), np.inf)
        for ref in (points[0], points[-1]):
            if self.port_of(ref) is not None:
                berth = self.point(ref)
                d = haversine_nm(lat, lon, berth[1], berth[0])
                limit = np.minimum(limit, PORT_SPEED_AT_BERTH_KN + PORT_SPEED_GAIN_KN_PER_NM * d)
        return limit

    @staticmethod
    def _oriented(fairway: Fairway, previous: LonLat | None) -> list[LonLat]:
        pts = list(fairway.waypoints)
        if previous is None:
            return pts
        d_first = haversine_nm(previous[1], previous[0], pts[0][1], pts[0][0])
        d_last = haversine_nm(previous[1], previous[0], pts[-1][1], pts[-1][0])
        return pts if d_first <= d_last else pts[::-1]

    def offset(self, route: Route, offset_nm: float, taper_nm: float = 4.0) -> Route:
        """Move the route `offset_nm` to starboard in open water (negative: to port).

        The offset fades to zero over `taper_nm` towards fixed pieces and the route's ends, so
        ships keep to the right of a lane's centre as traffic separation schemes have them, and
        still follow approaches and fairways exactly.
        """
        if offset_nm == 0.0:
            return route
        s = route.cum_nm
        anchors = route.fixed.copy()
        anchors[[0, -1]] = True
        behind = np.maximum.accumulate(np.where(anchors, s, -np.inf))
        ahead = np.minimum.accumulate(np.where(anchors, s, np.inf)[::-1])[::-1]
        taper = np.clip(np.minimum(s - behind, ahead - s) / taper_nm, 0.0, 1.0)
        coslat = np.cos(np.radians(route.lat))
        east = np.gradient(route.lon) * coslat
        north = np.gradient(route.lat)
        norm = np.hypot(east, north)
        norm[norm == 0] = 1.0
        shift_nm = offset_nm * taper
        lat = route.lat + shift_nm * (-east / norm) / NM_PER_DEG_LAT
        lon = route.lon + shift_nm * (north / norm) / (NM_PER_DEG_LAT * coslat)
        return Route(
            lon=lon,
            lat=lat,
            cum_nm=cumulative_nm(lon, lat),
            fixed=route.fixed,
            limit_kn=route.limit_kn,
        )

    def check_at_sea(self, route: Route, what: str) -> None:
        """Raise if the route touches forbidden land anywhere."""
        bad = self.path_on_land(route.lon, route.lat)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise StraitwatchError(
                f"{what}: the route crosses land near lon {route.lon[i]:.4f}, "
                f"lat {route.lat[i]:.4f} ({int(bad.sum())} of {len(bad)} segments); "
                "add a fairway or a via point"
            )

    def crossings(self, route: Route, line: Sequence[LonLat]) -> tuple[np.ndarray, np.ndarray]:
        """Where the route crosses a line: distances along the route (nm) and direction signs.

        Sign +1 means crossing from the line's left to its right (walking from its first to
        its last vertex), i.e. from side_a to side_b.
        """
        gate = shapely.LineString(line)
        lon, lat = route.lon, route.lat
        minx, miny, maxx, maxy = gate.bounds
        seg_lo_x = np.minimum(lon[:-1], lon[1:])
        seg_hi_x = np.maximum(lon[:-1], lon[1:])
        seg_lo_y = np.minimum(lat[:-1], lat[1:])
        seg_hi_y = np.maximum(lat[:-1], lat[1:])
        near = (seg_hi_x >= minx) & (seg_lo_x <= maxx) & (seg_hi_y >= miny) & (seg_lo_y <= maxy)
        idx = np.flatnonzero(near)
        if len(idx) == 0:
            return np.empty(0), np.empty(0)
        segs = shapely.linestrings(
            np.stack(
                [
                    np.stack([lon[idx], lat[idx]], axis=1),
                    np.stack([lon[idx + 1], lat[idx + 1]], axis=1),
                ],
                axis=1,
            )
        )
        hit = shapely.intersects(segs, gate)
        idx = idx[hit]
        if len(idx) == 0:
            return np.empty(0), np.empty(0)
        # intersection point along each segment, and the side it came from
        g = np.asarray(gate.coords)
        distances = []
        signs = []
        for k in idx:  # one entry per crossing (a handful per route), not per fix
            a = np.array([lon[k], lat[k]])
            b = np.array([lon[k + 1], lat[k + 1]])
            for j in range(len(g) - 1):
                t, _ = _segment_intersection(a, b, g[j], g[j + 1])
                if t is None:
                    continue
                distances.append(route.cum_nm[k] + t * (route.cum_nm[k + 1] - route.cum_nm[k]))
                gdir = g[j + 1] - g[j]
                cross = gdir[0] * (b - a)[1] - gdir[1] * (b - a)[0]
                signs.append(1.0 if cross < 0 else -1.0)
        order = np.argsort(distances)
        return np.asarray(distances)[order], np.asarray(signs)[order]


def _planar_cumulative(coords: Sequence[LonLat]) -> np.ndarray:
    """Cumulative planar length along a polyline, in the units shapely's project() uses."""
    pts = np.asarray(coords, dtype="float64")
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])


def parse_port_ref(scenario: Scenario, ref: str) -> tuple[Port, int]:
    """'port:RUBLT' -> (Baltiysk, 0); 'port:RUBLT#2' -> (Baltiysk, 1), its second berth."""
    body = ref.removeprefix("port:")
    port_id, _, number = body.partition("#")
    port = scenario.ports[port_id]
    return port, (int(number) - 1 if number else 0)


def _segment_intersection(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
) -> tuple[float | None, float | None]:
    """Parameters (t on ab, u on cd) where segments ab and cd meet, or (None, None)."""
    r, s = b - a, d - c
    denom = r[0] * s[1] - r[1] * s[0]
    if denom == 0:
        return None, None
    q = c - a
    t = (q[0] * s[1] - q[1] * s[0]) / denom
    u = (q[0] * r[1] - q[1] * r[0]) / denom
    if 0 <= t <= 1 and 0 <= u <= 1:
        return float(t), float(u)
    return None, None


def _corridor_distance_m(fairway: Fairway, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Distance of points from a fairway's centre line in metres (local flat projection)."""
    pts = np.asarray(fairway.waypoints)
    lat0 = float(pts[:, 1].mean())
    kx = np.cos(np.radians(lat0)) * NM_PER_DEG_LAT * M_PER_NM
    ky = NM_PER_DEG_LAT * M_PER_NM
    line = shapely.LineString(np.stack([pts[:, 0] * kx, pts[:, 1] * ky], axis=1))
    return shapely.distance(shapely.points(lon * kx, lat * ky), line)
