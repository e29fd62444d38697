"""Check the seed gate lines against the global-land-mask (GLOBE data, 30 arc-second cells).

For each gate: both ends on land, the interior at sea apart from the islands the seed declares,
and no way round either end: with the line burnt into the mask as land, sea next to its left
side must not reach sea next to its right side within a box around the line. For each
fairway: at sea along its whole length. The mask's cells are about 1 km and coasts are off
by up to a cell, so passages narrower than that (canals, the Middelfart narrows) are marked
`below_mask_resolution` in the seeds and checked against port points instead (tests).

`python -m pipeline.geo.gate_audit` prints the audit of the seeds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pandas as pd
from global_land_mask import globe

from pipeline.geo.distance import haversine_nm

CELLS_PER_DEG = 120  # the mask's grid: 30 arc-seconds
KM_PER_NM = 1.852


@dataclass(frozen=True)
class AuditConfig:
    """Thresholds of the gate audit."""

    sample_step_deg: float = 0.0015  # about 150 m between samples along a line
    min_end_land_km: float = 1.5  # each end this far inside the mask's land
    max_end_land_km: float = 30.0  # but not running on over a peninsula
    leak_margin_deg: float = 0.15  # box around the gate searched for a way round
    leak_margin_share: float = 0.1  # ... or this share of the gate's extent, if larger
    leak_margin_max_deg: float = 0.5  # ... but no more (the Cape meridian is 36 degrees long)


def densify(coords: npt.ArrayLike, step_deg: float) -> np.ndarray:
    """Points along a polyline no further apart than `step_deg` (planar lon/lat)."""
    verts = np.asarray(coords, dtype="float64")
    seg = np.diff(verts, axis=0)
    n = np.maximum(np.ceil(np.hypot(*seg.T) / step_deg).astype(int), 1)
    t = np.concatenate([np.arange(k) / k for k in n])
    start = np.repeat(verts[:-1], n, axis=0)
    pts = start + np.repeat(seg, n, axis=0) * t[:, None]
    return np.vstack([pts, verts[-1:]])


def land_runs(coords: npt.ArrayLike, config: AuditConfig = AuditConfig()) -> pd.DataFrame:
    """Alternating land / sea stretches along a line: is_land, start_km, length_km."""
    pts = densify(coords, config.sample_step_deg)
    land = globe.is_land(pts[:, 1], pts[:, 0])
    step_km = haversine_nm(pts[:-1, 1], pts[:-1, 0], pts[1:, 1], pts[1:, 0]) * KM_PER_NM
    km = np.concatenate([[0.0], np.cumsum(step_km)])
    change = np.flatnonzero(np.diff(land.astype(int))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(land) - 1]])
    return pd.DataFrame(
        {"is_land": land[starts], "start_km": km[starts], "length_km": km[ends] - km[starts]}
    )


def _grid(lon0: float, lat0: float, lon1: float, lat1: float) -> tuple[np.ndarray, int, int]:
    """The mask over a box, cell-aligned: (sea, first row index, first column index)."""
    i0, i1 = (int(np.floor((90 - lat) * CELLS_PER_DEG)) for lat in (lat1, lat0))
    j0, j1 = (int(np.floor((lon + 180) * CELLS_PER_DEG)) for lon in (lon0, lon1))
    lats = 90 - (np.arange(i0, i1 + 1) + 0.5) / CELLS_PER_DEG
    lons = -180 + (np.arange(j0, j1 + 1) + 0.5) / CELLS_PER_DEG
    lon_grid, lat_grid = np.meshgrid(lons, lats)
    return ~globe.is_land(lat_grid, lon_grid), i0, j0


def _cells(pts: np.ndarray, i0: int, j0: int, shape: tuple[int, int]) -> np.ndarray:
    rows = np.floor((90 - pts[:, 1]) * CELLS_PER_DEG).astype(int) - i0
    cols = np.floor((pts[:, 0] + 180) * CELLS_PER_DEG).astype(int) - j0
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows[inside] * shape[1] + cols[inside]


def _flood(sea: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Sea cells 4-connected to the seed cells (flat indices); returns a flat boolean mask."""
    height, width = sea.shape
    flat = sea.ravel()
    reached = np.zeros(flat.size, dtype=bool)
    start = seeds[flat[seeds]]
    reached[start] = True
    queue = deque(start.tolist())
    while queue:
        cell = queue.popleft()
        row, col = divmod(cell, width)
        for nxt, ok in (
            (cell - width, row > 0),
            (cell + width, row < height - 1),
            (cell - 1, col > 0),
            (cell + 1, col < width - 1),
        ):
            if ok and flat[nxt] and not reached[nxt]:
                reached[nxt] = True
                queue.append(nxt)
    return reached


def way_round(coords: npt.ArrayLike, config: AuditConfig = AuditConfig()) -> dict[str, int]:
    """Whether sea on the gate's left reaches sea on its right without crossing it.

    Returns left_cells / right_cells (sea cells found 1.6 cells off each side of the line)
    and leaked_cells (right-side cells reached from the left side): 0 when the gate seals.
    """
    verts = np.asarray(coords, dtype="float64")
    extent = float(np.ptp(verts, axis=0).max())
    margin = min(
        max(config.leak_margin_deg, config.leak_margin_share * extent), config.leak_margin_max_deg
    )
    (lon0, lat0), (lon1, lat1) = verts.min(axis=0) - margin, verts.max(axis=0) + margin
    sea, i0, j0 = _grid(lon0, lat0, lon1, lat1)
    # Burn the line in at an eighth of a cell, so that it leaves no diagonal gap.
    burnt = _cells(densify(verts, 1 / CELLS_PER_DEG / 8), i0, j0, sea.shape)
    sea.ravel()[burnt] = False
    sides = {}
    for name, sign in (("left", 1.0), ("right", -1.0)):
        pts = []
        for a, b in pairwise(verts):
            d = b - a
            normal = np.array([-d[1], d[0]]) / np.hypot(*d)
            pts.append(densify([a, b], 0.5 / CELLS_PER_DEG) + sign * 1.6 * normal / CELLS_PER_DEG)
        cells = np.unique(_cells(np.vstack(pts), i0, j0, sea.shape))
        sides[name] = cells[sea.ravel()[cells]]
    reached = _flood(sea, sides["left"])
    return {
        "left_cells": len(sides["left"]),
        "right_cells": len(sides["right"]),
        "leaked_cells": int(reached[sides["right"]].sum()),
    }


def audit_gate(
    coords: npt.ArrayLike, islands: int, config: AuditConfig = AuditConfig()
) -> dict[str, object]:
    """Land-mask facts about one gate line and the problems they show (empty: none)."""
    runs = land_runs(coords, config)
    first, last = runs.iloc[0], runs.iloc[-1]
    interior = runs.iloc[1:-1]
    found_islands = int(interior["is_land"].sum())
    problems = []
    for end, run in (("first", first), ("last", last)):
        if not run["is_land"]:
            problems.append(f"{end} vertex is at sea")
        elif not config.min_end_land_km <= run["length_km"] <= config.max_end_land_km:
            problems.append(
                f"{end} vertex is {run['length_km']:.1f} km inside land "
                f"(expected {config.min_end_land_km}-{config.max_end_land_km})"
            )
    if found_islands != islands:
        problems.append(
            f"crosses land {found_islands} time(s) between its ends; "
            f"the seed declares {islands} island(s)"
        )
    leak = way_round(coords, config)
    if leak["left_cells"] == 0 or leak["right_cells"] == 0:
        problems.append("no sea next to the line on one side")
    if leak["leaked_cells"]:
        problems.append(f"sea goes round the line ({leak['leaked_cells']} cells reached)")
    return {
        "start_land_km": float(first["length_km"]) if first["is_land"] else 0.0,
        "end_land_km": float(last["length_km"]) if last["is_land"] else 0.0,
        "sea_km": float(runs.loc[~runs["is_land"], "length_km"].sum()),
        "islands_found": found_islands,
        **leak,
        "problems": problems,
    }


def fairway_land_km(coords: npt.ArrayLike, config: AuditConfig = AuditConfig()) -> float:
    """How much of a fairway the mask puts on land, km."""
    runs = land_runs(coords, config)
    return float(runs.loc[runs["is_land"], "length_km"].sum())


def audit(
    chokepoints: pd.DataFrame, gates: pd.DataFrame, config: AuditConfig = AuditConfig()
) -> pd.DataFrame:
    """One row per gate: the mask facts, and `problems` (a list; empty when the gate passes).

    Gates marked below_mask_resolution are only checked for ends on land.
    """
    rows = []
    for gate in gates.itertuples(index=False):
        coords = np.asarray(gate.geometry.coords)
        if gate.below_mask_resolution:
            ends = globe.is_land(coords[[0, -1], 1], coords[[0, -1], 0])
            facts: dict[str, object] = {
                "problems": [
                    f"{e} vertex is at sea"
                    for e, ok in zip(("first", "last"), ends, strict=True)
                    if not ok
                ]
            }
        else:
            facts = audit_gate(coords, len(gate.islands), config)
        rows.append({"chokepoint_id": gate.chokepoint_id, "gate": gate.gate, **facts})
    frame = pd.DataFrame(rows)
    fairway_land = chokepoints.set_index("chokepoint_id")["fairway"].map(
        lambda line: fairway_land_km(np.asarray(line.coords), config)
    )
    frame["fairway_land_km"] = frame["chokepoint_id"].map(fairway_land)
    return frame


if __name__ == "__main__":  # pragma: no cover - a report for seed editors
    from pipeline.geo.geofences import load_gates

    seeds_chokepoints, seeds_gates = load_gates()
    report = audit(seeds_chokepoints, seeds_gates)
    with pd.option_context("display.width", 200, "display.max_rows", None):
        print(report.drop(columns="problems").round(2).to_string(index=False))
    bad = report.loc[report["problems"].map(len) > 0]
    for row in bad.itertuples():
        print(f"{row.chokepoint_id}/{row.gate}: {'; '.join(row.problems)}")
    raise SystemExit(1 if len(bad) else 0)
