"""Vessel identifiers: MMSI ranges, flags from the MID, IMO check digits (vectorised)."""

from __future__ import annotations

import csv
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from pipeline.config import SEEDS_DIR

# ITU-R M.585: ship station MMSIs are MIDxxxxxx with MID 201-775. Below and above are
# coast stations (00MIDxxxx), group calls (0MID...), SAR aircraft (111MID...), AtoN (99MID...), ...
SHIP_MMSI_MIN = 201_000_000
SHIP_MMSI_MAX = 775_999_999

_IMO_DIGITS = re.compile(r"^(?:IMO)?\s*(\d{7})$", re.IGNORECASE)


def is_ship_mmsi(mmsi: pd.Series | np.ndarray) -> np.ndarray:
    """True where the MMSI is in the ship-station range 201000000-775999999."""
    values = np.asarray(mmsi, dtype="float64")
    return (values >= SHIP_MMSI_MIN) & (values <= SHIP_MMSI_MAX)


def imo_is_valid(imo: str | int | None) -> bool:
    """IMO ship number check: 7 digits, the last = sum(digit_i * (7 - i)) mod 10 for i in 0..5."""
    if imo is None:
        return False
    m = _IMO_DIGITS.match(str(imo).strip())
    if not m:
        return False
    digits = [int(c) for c in m.group(1)]
    if digits[:6] == [0] * 6:
        return False
    return sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 == digits[6]


def imo_valid_mask(imo: pd.Series) -> pd.Series:
    """Vectorised `imo_is_valid` over a Series of text or numbers (NA -> False)."""
    text = imo.astype("string").str.strip().str.upper().str.removeprefix("IMO").str.strip()
    text = text.str.replace(r"\.0$", "", regex=True)  # numbers read as floats: 9268710.0
    ok = text.str.fullmatch(r"\d{7}").fillna(False).astype(bool)
    digits = np.zeros((len(text), 7), dtype=np.int64)
    good = text[ok].to_numpy(dtype=str)
    if len(good):
        digits[ok.to_numpy()] = np.frombuffer(
            "".join(good).encode("ascii"), dtype=np.uint8
        ).reshape(-1, 7) - ord("0")
    weights = np.array([7, 6, 5, 4, 3, 2])
    check = (digits[:, :6] * weights).sum(axis=1) % 10
    nonzero = digits[:, :6].sum(axis=1) > 0
    return pd.Series(ok.to_numpy() & nonzero & (check == digits[:, 6]), index=imo.index)


def normalise_imo(imo: str | int | None) -> str | None:
    """The 7 digits of an IMO number as text ('IMO 9268710' -> '9268710'), or None."""
    if imo is None or (isinstance(imo, float) and np.isnan(imo)):
        return None
    text = str(imo).strip().upper().removeprefix("IMO").strip().removesuffix(".0")
    return text if re.fullmatch(r"\d{7}", text) else None


@lru_cache(maxsize=1)
def mid_table() -> dict[int, tuple[str, str]]:
    """MID (first three digits of a ship MMSI) -> (country name, ISO 3166 alpha-2)."""
    path = SEEDS_DIR / "reference" / "mid_countries.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return {int(r["MID"]): (r["Country Name"], r["Country Code"]) for r in csv.DictReader(f)}


def flag_of(mmsi: int | None) -> str | None:
    """ISO alpha-2 flag state from a ship MMSI's MID, or None when it is not a ship MMSI."""
    if mmsi is None or not (SHIP_MMSI_MIN <= int(mmsi) <= SHIP_MMSI_MAX):
        return None
    entry = mid_table().get(int(mmsi) // 1_000_000)
    return entry[1] if entry else None


def flags_of(mmsi: pd.Series) -> pd.Series:
    """Vectorised `flag_of`: Series of ISO alpha-2 codes (NA where unknown)."""
    codes = {mid: code for mid, (_, code) in mid_table().items()}
    values = pd.to_numeric(mmsi, errors="coerce")
    mid = (values // 1_000_000).where(pd.Series(is_ship_mmsi(values), index=mmsi.index))
    return mid.map(codes).astype("string")
