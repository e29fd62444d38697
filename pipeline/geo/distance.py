"""Great-circle distances in nautical miles, vectorised over NumPy arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_NM = 3440.065  # mean Earth radius, 6371.0088 km, in nautical miles

ArrayLike = npt.ArrayLike


def haversine_nm(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> np.ndarray:
    """Great-circle distance between points given in degrees, in nautical miles."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype="float64")) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_NM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
