"""Chokepoint gate lines from seeds/geofences: parse, validate strictly, return frames.

Each `seeds/geofences/<chokepoint_id>.geojson` is a FeatureCollection with one `chokepoint`
Point feature (the reference point and the chokepoint's properties), one or more `gate`
LineString features and one `fairway` LineString (a plausible track from a sea point on side A
through every gate to a sea point on side B). The gate convention (docs/architecture.md): gates
are numbered `seq` 1..n from side A towards side B and every gate is drawn with side A on its
left, walking from its first vertex to its last. `load_gates` refuses any file that breaks it,
naming the file, the feature and the property.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely import LineString

from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError

GEOFENCES_DIRNAME = "geofences"
KINDS = ("strait", "canal")
OPPOSITE_DIRECTION = {
    "northbound": "southbound",
    "southbound": "northbound",
    "eastbound": "westbound",
    "westbound": "eastbound",
}
# Vertices closer than this (degrees) count as the same point: fairway ends vs side points.
SAME_POINT_DEG = 1e-9

# What every consumer of a chokepoint needs: its id, names, direction words and reference point.
CHOKEPOINT_CORE_COLUMNS = [
    "chokepoint_id",
    "name",
    "kind",
    "first_direction",
    "second_direction",
    "aliases",
    "ref_lat",
    "ref_lon",
]
CHOKEPOINT_COLUMNS = [
    *CHOKEPOINT_CORE_COLUMNS,
    "portwatch_id",
    "side_a",
    "side_b",
    "side_a_point",
    "side_b_point",
    "fairway",
    "ports_side_a",
    "ports_between",
    "ports_side_b",
    "below_mask_resolution",
    "ref_note",
    "notes",
    "source_file",
]
GATE_COLUMNS = [
    "chokepoint_id",
    "gate",
    "seq",
    "geometry",
    "side_a",
    "side_b",
    "wkt",
    "from_place",
    "to_place",
    "islands",
    "below_mask_resolution",
]

_SLUG = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
_GATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")
_PORTWATCH_ID = re.compile(r"^chokepoint[0-9]+$")


class GeofenceError(StraitwatchError):
    """A geofence seed file is malformed or breaks the gate convention."""


# --------------------------------------------------------------------------- geometry helpers


def side_of(line: npt.ArrayLike, points: npt.ArrayLike) -> np.ndarray:
    """+1 where a point lies left of the polyline (walking first to last vertex), -1 right, 0 on it.

    The side is taken at the nearest point of the line; where that is a vertex, against the
    bisector of the two segments' left normals (the pseudo-normal), so points beyond a bend or
    beyond an end still get the side a crossing there would give.
    """
    verts = np.asarray(line, dtype="float64")
    pts = np.atleast_2d(np.asarray(points, dtype="float64"))
    start, d = verts[:-1], np.diff(verts, axis=0)  # segments (m, 2)
    length2 = (d**2).sum(axis=1)
    rel = pts[:, None, :] - start[None, :, :]  # (n, m, 2)
    t = np.clip((rel * d).sum(axis=2) / length2, 0.0, 1.0)
    nearest = start[None, :, :] + t[..., None] * d[None, :, :]
    dist2 = ((pts[:, None, :] - nearest) ** 2).sum(axis=2)
    k = dist2.argmin(axis=1)
    rows = np.arange(len(pts))
    normals = np.column_stack([-d[:, 1], d[:, 0]]) / np.sqrt(length2)[:, None]
    tk = t[rows, k]
    # Nearest point at a segment's end: average the normals of the segments meeting there.
    vertex = np.where(tk >= 1.0, k + 1, k)
    before = np.clip(vertex - 1, 0, len(d) - 1)
    after = np.clip(vertex, 0, len(d) - 1)
    at_vertex = (tk <= 0.0) | (tk >= 1.0)
    n = np.where(at_vertex[:, None], normals[before] + normals[after], normals[k])
    offset = pts - nearest[rows, k]
    return np.sign((offset * n).sum(axis=1)).astype(int)


def path_crossings(path: npt.ArrayLike, gate: npt.ArrayLike) -> pd.DataFrame:
    """Where a path (a track's vertices) crosses a gate line, in path order.

    Returns one row per proper crossing with `along` (distance along the path in degrees, for
    ordering) and `direction` +1 when the path goes from the gate's left (side A) to its right,
    -1 the other way. Vectorised over all pairs of path and gate segments.
    """
    p = np.asarray(path, dtype="float64")
    g = np.asarray(gate, dtype="float64")
    a, r = p[:-1, None, :], np.diff(p, axis=0)[:, None, :]
    c, s = g[None, :-1, :], np.diff(g, axis=0)[None, :, :]
    den = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
    qa = c - a
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qa[..., 0] * s[..., 1] - qa[..., 1] * s[..., 0]) / den
        u = (qa[..., 0] * r[..., 1] - qa[..., 1] * r[..., 0]) / den
    # Half-open intervals, so a crossing at a shared vertex is counted once.
    last = np.arange(len(g) - 1) == len(g) - 2
    u_ok = (u >= 0) & ((u < 1) | ((u <= 1) & last[None, :]))
    hit = (den != 0) & (t >= 0) & (t < 1) & u_ok
    i, j = np.nonzero(hit)
    seg_len = np.hypot(*np.diff(p, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(seg_len)])[i] + t[i, j] * seg_len[i]
    # Left to right when the path's direction is clockwise from the gate segment's (r x s > 0).
    direction = np.where(den[i, j] > 0, 1, -1)
    order = np.argsort(along, kind="stable")
    return pd.DataFrame(
        {"along": along[order], "direction": direction[order], "gate_segment": j[order]}
    )


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Where:
    """Where in the seeds a value sits, for error messages."""

    path: Path
    feature: int | None = None
    label: str = ""

    def fail(self, prop: str | None, problem: str) -> GeofenceError:
        where = f"seeds/{GEOFENCES_DIRNAME}/{self.path.name}"
        if self.feature is not None:
            where += f": feature {self.feature}"
            if self.label:
                where += f" ({self.label})"
        if prop:
            where += f": property '{prop}'"
        return GeofenceError(f"{where}: {problem}")


def _string(where: _Where, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.fail(name, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _optional_string(where: _Where, name: str, value: Any) -> str | None:
    return None if value is None else _string(where, name, value)


def _bool(where: _Where, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.fail(name, f"expected true or false, got {value!r}")
    return value


def _string_list(where: _Where, name: str, value: Any, pattern: re.Pattern | None = None) -> list:
    if not isinstance(value, list):
        raise where.fail(name, f"expected a list of strings, got {value!r}")
    out = [_string(where, name, v) for v in value]
    if pattern is not None:
        bad = [v for v in out if not pattern.match(v)]
        if bad:
            raise where.fail(name, f"{bad[0]!r} does not have the form {pattern.pattern}")
    seen: set[str] = set()
    for v in out:
        if v.casefold() in seen:
            raise where.fail(name, f"{v!r} is listed twice")
        seen.add(v.casefold())
    return out


def _lonlat(where: _Where, name: str, value: Any) -> tuple[float, float]:
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok or not all(math.isfinite(v) for v in value):
        raise where.fail(name, f"expected [longitude, latitude], got {value!r}")
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise where.fail(name, f"[{lon}, {lat}] is outside longitude -180..180 / latitude -90..90")
    return lon, lat


def _linestring(where: _Where, geometry: Any) -> LineString:
    if not isinstance(geometry, dict) or geometry.get("type") != "LineString":
        raise where.fail(None, "geometry must be a LineString")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        raise where.fail(None, "a LineString needs at least two positions")
    pts = np.array([_lonlat(where, "geometry.coordinates", c) for c in coords])
    steps = np.diff(pts, axis=0)
    if (np.abs(steps).sum(axis=1) == 0).any():
        raise where.fail(None, "the line repeats a vertex (zero-length segment)")
    if (np.abs(steps[:, 0]) > 180).any():
        raise where.fail(None, "a segment spans more than 180 degrees of longitude (antimeridian)")
    line = LineString(pts)
    if not line.is_simple:
        raise where.fail(None, "the line intersects itself")
    return line


_Check = Callable[[_Where, str, Any], Any]
_CHOKEPOINT_PROPS: dict[str, tuple[bool, _Check]] = {
    "role": (True, _string),
    "chokepoint_id": (True, _string),
    "name": (True, _string),
    "kind": (True, _string),
    "side_a": (True, _string),
    "side_b": (True, _string),
    "first_direction": (True, _string),
    "second_direction": (True, _string),
    "side_a_point": (True, _lonlat),
    "side_b_point": (True, _lonlat),
    "aliases": (True, _string_list),
    "portwatch_id": (True, _optional_string),
    "ports_side_a": (True, lambda w, n, v: _string_list(w, n, v, _LOCODE)),
    "ports_between": (True, lambda w, n, v: _string_list(w, n, v, _LOCODE)),
    "ports_side_b": (True, lambda w, n, v: _string_list(w, n, v, _LOCODE)),
    "below_mask_resolution": (True, _bool),
    "notes": (True, _string),
    "ref_note": (False, _string),
}
_GATE_PROPS: dict[str, tuple[bool, _Check]] = {
    "role": (True, _string),
    "chokepoint_id": (True, _string),
    "gate": (True, _string),
    "seq": (True, lambda w, n, v: v),
    "from": (True, _string),
    "to": (True, _string),
    "islands": (True, _string_list),
    "below_mask_resolution": (False, _bool),
}
_FAIRWAY_PROPS: dict[str, tuple[bool, _Check]] = {
    "role": (True, _string),
    "chokepoint_id": (True, _string),
}
_ROLE_PROPS = {"chokepoint": _CHOKEPOINT_PROPS, "gate": _GATE_PROPS, "fairway": _FAIRWAY_PROPS}


def _properties(where: _Where, props: Any, spec: Mapping[str, tuple[bool, _Check]]) -> dict:
    if not isinstance(props, dict):
        raise where.fail(None, "feature has no properties object")
    unknown = sorted(set(props) - set(spec))
    if unknown:
        raise where.fail(unknown[0], f"unknown property (expected: {', '.join(spec)})")
    out = {}
    for name, (required, check) in spec.items():
        if name not in props:
            if required:
                raise where.fail(name, "missing")
            continue
        out[name] = check(where, name, props[name])
    return out


def _read_collection(path: Path) -> list:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise GeofenceError(f"cannot read seeds/{GEOFENCES_DIRNAME}/{path.name}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise GeofenceError(
            f"seeds/{GEOFENCES_DIRNAME}/{path.name}: line {exc.lineno}: not valid JSON ({exc.msg})"
        ) from exc
    where = _Where(path)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise where.fail(None, "expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise where.fail(None, "the FeatureCollection has no features")
    return features


def _parse_file(path: Path) -> tuple[dict, list[dict], LineString]:
    """One chokepoint's file -> (chokepoint record, gate records, fairway), all validated."""
    chokepoint: dict | None = None
    gates: list[dict] = []
    fairways: list[LineString] = []
    for index, feature in enumerate(_read_collection(path)):
        where = _Where(path, index)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise where.fail(None, "expected a GeoJSON Feature")
        raw = feature.get("properties")
        if not isinstance(raw, dict):
            raise where.fail(None, "feature has no properties object")
        role = raw.get("role")
        if role not in _ROLE_PROPS:
            raise where.fail("role", f"expected one of {', '.join(_ROLE_PROPS)}, got {role!r}")
        label = f"gate {raw.get('gate')!r}" if role == "gate" else role
        where = _Where(path, index, label)
        props = _properties(where, raw, _ROLE_PROPS[role])
        if props["chokepoint_id"] != path.stem:
            raise where.fail(
                "chokepoint_id", f"{props['chokepoint_id']!r} does not match the file name"
            )
        if role == "chokepoint":
            if chokepoint is not None:
                raise where.fail("role", "a second chokepoint feature in one file")
            chokepoint = _chokepoint(where, props, feature.get("geometry"))
        elif role == "gate":
            gates.append(_gate(where, props, feature.get("geometry")))
        else:
            fairways.append(_linestring(where, feature.get("geometry")))
    where = _Where(path)
    if chokepoint is None:
        raise where.fail("role", "no feature with role 'chokepoint'")
    if not gates:
        raise where.fail("role", "no feature with role 'gate'")
    if len(fairways) != 1:
        raise where.fail("role", f"expected one feature with role 'fairway', found {len(fairways)}")
    return chokepoint, gates, fairways[0]


def _chokepoint(where: _Where, props: dict, geometry: Any) -> dict:
    cid = props["chokepoint_id"]
    if not _SLUG.match(cid):
        raise where.fail("chokepoint_id", f"{cid!r} is not a slug (lower-case words joined by _)")
    if props["kind"] not in KINDS:
        raise where.fail("kind", f"expected one of {', '.join(KINDS)}, got {props['kind']!r}")
    first = props["first_direction"]
    if first not in OPPOSITE_DIRECTION:
        raise where.fail("first_direction", f"expected one of {', '.join(OPPOSITE_DIRECTION)}")
    if props["second_direction"] != OPPOSITE_DIRECTION[first]:
        raise where.fail(
            "second_direction", f"the opposite of {first!r} is {OPPOSITE_DIRECTION[first]!r}"
        )
    if props["side_a"].casefold() == props["side_b"].casefold():
        raise where.fail("side_b", "side_a and side_b name the same water")
    pw = props["portwatch_id"]
    if pw is not None and not _PORTWATCH_ID.match(pw):
        raise where.fail("portwatch_id", f"expected chokepointN or null, got {pw!r}")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise where.fail(None, "the chokepoint's geometry must be a Point (its reference point)")
    ref_lon, ref_lat = _lonlat(where, "geometry.coordinates", geometry.get("coordinates"))
    ports = props["ports_side_a"] + props["ports_between"] + props["ports_side_b"]
    dup = sorted({p for p in ports if ports.count(p) > 1})
    if dup:
        raise where.fail("ports_between", f"port {dup[0]} is listed on two sides")
    return {
        **{k: props[k] for k in ("chokepoint_id", "name", "kind", "first_direction")},
        "second_direction": props["second_direction"],
        "aliases": props["aliases"],
        "ref_lat": ref_lat,
        "ref_lon": ref_lon,
        "portwatch_id": pw,
        "side_a": props["side_a"],
        "side_b": props["side_b"],
        "side_a_point": props["side_a_point"],
        "side_b_point": props["side_b_point"],
        "ports_side_a": props["ports_side_a"],
        "ports_between": props["ports_between"],
        "ports_side_b": props["ports_side_b"],
        "below_mask_resolution": props["below_mask_resolution"],
        "ref_note": props.get("ref_note"),
        "notes": props["notes"],
        "source_file": f"seeds/{GEOFENCES_DIRNAME}/{where.path.name}",
    }


def _gate(where: _Where, props: dict, geometry: Any) -> dict:
    if not _GATE_NAME.match(props["gate"]):
        raise where.fail("gate", f"{props['gate']!r} is not a lower-case name")
    seq = props["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise where.fail("seq", f"expected a positive integer, got {seq!r}")
    line = _linestring(where, geometry)
    return {
        "chokepoint_id": props["chokepoint_id"],
        "gate": props["gate"],
        "seq": seq,
        "geometry": line,
        "from_place": props["from"],
        "to_place": props["to"],
        "islands": props["islands"],
        "below_mask_resolution": props.get("below_mask_resolution", False),
        "_where": where,
    }


def _check_geometry(path: Path, chokepoint: dict, gates: list[dict], fairway: LineString) -> None:
    """The gate convention: seq 1..n, side A left of every gate, B right, the fairway crosses
    every gate once, from A to B, in seq order; gates of one chokepoint never touch."""
    names = [g["gate"] for g in gates]
    for g in gates:
        if names.count(g["gate"]) > 1:
            raise g["_where"].fail("gate", f"two gates named {g['gate']!r}")
    seqs = sorted(g["seq"] for g in gates)
    if seqs != list(range(1, len(gates) + 1)):
        raise _Where(path).fail("seq", f"gate seq must be 1..{len(gates)}, found {seqs}")
    a_pt, b_pt = chokepoint["side_a_point"], chokepoint["side_b_point"]
    fw = np.asarray(fairway.coords)
    fw_where = _Where(path, None, "fairway")
    if np.abs(fw[0] - a_pt).max() > SAME_POINT_DEG or np.abs(fw[-1] - b_pt).max() > SAME_POINT_DEG:
        raise fw_where.fail(None, "the fairway must run from side_a_point to side_b_point")
    along = {}
    for g in gates:
        coords = np.asarray(g["geometry"].coords)
        sides = side_of(coords, [a_pt, b_pt])
        if sides[0] != 1 or sides[1] != -1:
            raise g["_where"].fail(
                "geometry",
                "side_a_point must lie left and side_b_point right of the gate, walking from "
                "its first vertex to its last (is the line drawn the wrong way round?)",
            )
        hits = path_crossings(fw, coords)
        if len(hits) != 1 or hits["direction"].iloc[0] != 1:
            raise g["_where"].fail(
                "geometry",
                f"the fairway must cross the gate exactly once from side A to side B "
                f"(crossings: {hits['direction'].tolist()})",
            )
        along[g["seq"]] = hits["along"].iloc[0]
    order = [along[s] for s in sorted(along)]
    if order != sorted(order):
        raise _Where(path).fail("seq", "the fairway meets the gates out of seq order")
    for i, g in enumerate(gates):
        for h in gates[i + 1 :]:
            if g["geometry"].intersects(h["geometry"]):
                raise g["_where"].fail("geometry", f"gate {g['gate']!r} touches gate {h['gate']!r}")


def _check_across_files(chokepoints: pd.DataFrame) -> None:
    owner: dict[str, str] = {}
    for cid, aliases, name in chokepoints[["chokepoint_id", "aliases", "name"]].itertuples(
        index=False
    ):
        for alias in {name, *aliases}:
            key = alias.casefold()
            if key in owner and owner[key] != cid:
                raise GeofenceError(
                    f"seeds/{GEOFENCES_DIRNAME}/{cid}.geojson: property 'aliases': {alias!r} "
                    f"also names {owner[key]!r}"
                )
            owner[key] = cid
    pw = chokepoints["portwatch_id"].dropna()
    dup = pw[pw.duplicated()]
    if not dup.empty:
        raise GeofenceError(
            f"seeds/{GEOFENCES_DIRNAME}: property 'portwatch_id': {dup.iloc[0]} is used twice"
        )


def gate_files(seeds_dir: Path = SEEDS_DIR) -> list[Path]:
    """The geofence seed files, in name order."""
    folder = Path(seeds_dir) / GEOFENCES_DIRNAME
    if not folder.is_dir():
        raise GeofenceError(f"no {GEOFENCES_DIRNAME}/ folder under {seeds_dir}")
    files = sorted(folder.glob("*.geojson"))
    if not files:
        raise GeofenceError(f"no .geojson files in {folder}")
    return files


def load_gates(seeds_dir: Path = SEEDS_DIR) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Chokepoints and their gate lines from `seeds/geofences/*.geojson`, validated.

    Returns (chokepoints, gates). chokepoints: one row per chokepoint, CHOKEPOINT_COLUMNS
    (`aliases` and the `ports_*` columns hold lists, `side_*_point` (lon, lat) tuples,
    `fairway` a Shapely LineString). gates: one row per gate, GATE_COLUMNS, sorted by
    chokepoint and seq (`geometry` a Shapely LineString in lon/lat, `wkt` its text, `side_a` /
    `side_b` the chokepoint's sides). Pure: reads files, touches no database.
    """
    cp_rows: list[dict] = []
    gate_rows: list[dict] = []
    for path in gate_files(seeds_dir):
        chokepoint, gates, fairway = _parse_file(path)
        _check_geometry(path, chokepoint, gates, fairway)
        cp_rows.append({**chokepoint, "fairway": fairway})
        for g in gates:
            g.pop("_where")
            gate_rows.append({**g, "side_a": chokepoint["side_a"], "side_b": chokepoint["side_b"]})
    chokepoints = pd.DataFrame(cp_rows, columns=CHOKEPOINT_COLUMNS)
    _check_across_files(chokepoints)
    gates = pd.DataFrame(gate_rows)
    gates["wkt"] = shapely.to_wkt(gates["geometry"].to_numpy(), rounding_precision=7, trim=True)
    gates = gates[GATE_COLUMNS].sort_values(["chokepoint_id", "seq"], ignore_index=True)
    return chokepoints.sort_values("chokepoint_id", ignore_index=True), gates


def chokepoint_ports(chokepoints: pd.DataFrame) -> pd.DataFrame:
    """The seed's statements of which ports lie where: chokepoint_id, port_id, position
    ('side_a', 'between', 'side_b'), one row each."""
    frames = []
    for position in ("side_a", "between", "side_b"):
        col = f"ports_{position}"
        part = chokepoints[["chokepoint_id", col]].explode(col).dropna()
        frames.append(part.rename(columns={col: "port_id"}).assign(position=position))
    return pd.concat(frames, ignore_index=True)[["chokepoint_id", "port_id", "position"]]
