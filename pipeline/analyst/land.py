"""Land polygons for a map extent, from the 1 km GLOBE land mask shipped in `global-land-mask`.

The package's mask is a 21600 x 43200 boolean grid (1/120 degree, rows from 90 N southwards,
columns from 180 W eastwards, True where there is water) stored as one compressed array.
Loading it whole costs about a gigabyte; this module streams only the rows of the requested
band, averages the cells down to about the map's pixel size and traces the land outline with
contourpy (marching squares).
"""

from __future__ import annotations

import importlib.util
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import contourpy
import numpy as np

from pipeline.errors import StraitwatchError

CELLS_PER_DEGREE = 120
_MASK_MEMBER = "mask.npy"
_MASK_FILE = "globe_combined_mask_compressed.npz"
_READ_ROWS = 512  # rows per read while skipping to the band


@dataclass(frozen=True)
class LandWindow:
    """Land fraction (0..1) on a regular grid of cell centres inside an extent."""

    lons: np.ndarray  # (n_cols,) ascending
    lats: np.ndarray  # (n_rows,) descending
    land: np.ndarray  # (n_rows, n_cols) float32 fraction of 1 km cells that are land


def mask_path() -> Path:
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or spec.origin is None:
        raise StraitwatchError("the global-land-mask package is not installed: no land on maps")
    path = Path(spec.origin).parent / _MASK_FILE
    if not path.exists():
        raise StraitwatchError(f"global-land-mask is installed but {_MASK_FILE} is missing")
    return path


def read_land_window(
    lon_min: float, lon_max: float, lat_min: float, lat_max: float, *, max_cells: int = 700
) -> LandWindow:
    """Land fraction over the extent, averaged to at most `max_cells` cells per side.

    Longitudes are clipped to [-180, 180]: an extent across the antimeridian is not supported.
    """
    lon_min, lon_max = max(lon_min, -180.0), min(lon_max, 180.0)
    lat_min, lat_max = max(lat_min, -90.0), min(lat_max, 90.0)
    if not (lon_min < lon_max and lat_min < lat_max):
        raise StraitwatchError(f"empty map extent {lon_min},{lat_min} - {lon_max},{lat_max}")
    with zipfile.ZipFile(mask_path()) as archive, archive.open(_MASK_MEMBER) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        n_rows, n_cols = shape
        if fortran or dtype != np.dtype(bool):
            raise StraitwatchError(f"unexpected layout of the land mask in {mask_path()}")
        row0 = max(0, math.floor((90.0 - lat_max) * CELLS_PER_DEGREE))
        row1 = min(n_rows, math.ceil((90.0 - lat_min) * CELLS_PER_DEGREE) + 1)
        col0 = max(0, math.floor((lon_min + 180.0) * CELLS_PER_DEGREE))
        col1 = min(n_cols, math.ceil((lon_max + 180.0) * CELLS_PER_DEGREE) + 1)
        # A compressed member cannot seek: read (and drop) the rows above the band in chunks.
        row_bytes = n_cols * dtype.itemsize
        skipped = 0
        while skipped < row0:
            step = min(_READ_ROWS, row0 - skipped)
            f.read(step * row_bytes)
            skipped += step
        band = np.frombuffer(f.read((row1 - row0) * row_bytes), dtype=bool)
    band = ~band.reshape(row1 - row0, n_cols)[:, col0:col1]  # the file marks water
    stride = max(1, math.ceil(max(band.shape) / max_cells))
    rows, cols = (band.shape[0] // stride) * stride, (band.shape[1] // stride) * stride
    rows, cols = max(rows, stride), max(cols, stride)
    block = band[:rows, :cols]
    if block.shape[0] % stride or block.shape[1] % stride:  # band smaller than one block
        stride = 1
    land = block.reshape(block.shape[0] // stride, stride, block.shape[1] // stride, stride).mean(
        axis=(1, 3), dtype=np.float32
    )
    cell = 1.0 / CELLS_PER_DEGREE
    lats = 90.0 - (row0 + (np.arange(land.shape[0]) + 0.5) * stride) * cell
    lons = -180.0 + (col0 + (np.arange(land.shape[1]) + 0.5) * stride) * cell
    return LandWindow(lons=lons, lats=lats, land=land)


def land_rings(window: LandWindow) -> list[np.ndarray]:
    """Closed rings (k x 2 arrays of lon, lat) outlining land; holes are rings too.

    Drawn with the even-odd fill rule they give land with its lakes and enclosed seas.
    """
    if window.land.size == 0 or not window.land.any():
        return []
    # Repeat the edge cells outwards: land running off the map closes outside the visible
    # extent instead of drawing a false coast along the map's border.
    z = np.pad(window.land, 1, mode="edge")
    dlon = window.lons[1] - window.lons[0] if len(window.lons) > 1 else 1 / CELLS_PER_DEGREE
    dlat = window.lats[1] - window.lats[0] if len(window.lats) > 1 else -1 / CELLS_PER_DEGREE
    lons = np.concatenate([[window.lons[0] - dlon], window.lons, [window.lons[-1] + dlon]])
    lats = np.concatenate([[window.lats[0] - dlat], window.lats, [window.lats[-1] + dlat]])
    gen = contourpy.contour_generator(
        lons, lats, z, fill_type=contourpy.FillType.OuterOffset, name="serial"
    )
    # OuterOffset: one points array and one ring-offsets array per polygon
    points, offsets = cast(tuple[list[np.ndarray], list[np.ndarray]], gen.filled(0.5, 2.0))
    rings: list[np.ndarray] = []
    for pts, offs in zip(points, offsets, strict=True):
        rings.extend(pts[offs[i] : offs[i + 1]] for i in range(len(offs) - 1))
    return rings
