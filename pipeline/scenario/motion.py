"""How simulated ships move and report: legs sailed on routes, stays, and the AIS fixes they send.

A vessel's timeline is a list of phases: `Leg` (sailing a route; its time profile respects the
speed limits of harbours and fairways and otherwise keeps a cruise speed) and `Stay` (moored,
at anchor, drifting). Fixes are drawn at AIS-like intervals per phase and computed in one
vectorised step per phase; noise is added to position, speed and course as receivers see it.
Times are float seconds since the Unix epoch (UTC) throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import StraitwatchError
from pipeline.scenario.config import LonLat
from pipeline.scenario.geography import NM_PER_DEG_LAT, Route, bearing_deg

# ITU-R M.1371 navigational status codes used here
STATUS_UNDER_WAY = 0
STATUS_AT_ANCHOR = 1
STATUS_MOORED = 5
STATUS_FISHING = 7
M_PER_NM = 1852.0
FIX_COLUMNS = ("mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "status")


@dataclass(frozen=True)
class Sampling:
    """How often ships report and how noisy their reports are.

    Class A transponders report every 2-10 s under way and every 3 min at anchor; real feeds
    are commonly thinned, and so are these files: one fix every 1-3 min under way, 2-5 min when
    drifting or fishing, 6-12 min moored or at anchor. Intervals are drawn uniformly.
    """

    underway_interval_s: tuple[float, float] = (60.0, 180.0)
    slow_interval_s: tuple[float, float] = (120.0, 300.0)
    stationary_interval_s: tuple[float, float] = (360.0, 720.0)
    position_noise_m: float = 8.0  # GPS error, 1 sigma per axis
    sog_noise_kn: float = 0.1
    cog_noise_deg: float = 1.0
    heading_noise_deg: float = 2.0
    # Reception dropouts (terrestrial coverage, collisions): minutes of silence, well short
    # of an AIS gap, at random a few times a week per ship.
    dropouts_per_day: float = 0.3
    dropout_minutes: tuple[float, float] = (10.0, 45.0)


@dataclass(frozen=True, eq=False)
class Leg:
    """Sailing along a route from start_s to end_s."""

    route: Route
    cum_t: np.ndarray  # epoch seconds at each route vertex
    cruise_kn: float
    nav_status: int = STATUS_UNDER_WAY
    label: str = ""

    @property
    def start_s(self) -> float:
        return float(self.cum_t[0])

    @property
    def end_s(self) -> float:
        return float(self.cum_t[-1])

    def time_at_nm(self, distance_nm: np.ndarray) -> np.ndarray:
        return np.interp(distance_nm, self.route.cum_nm, self.cum_t)


@dataclass(frozen=True)
class Stay:
    """Staying at one place (a berth, an anchorage, a drifting area) from start_s to end_s."""

    start_s: float
    end_s: float
    centre: LonLat
    state: str  # moored, anchored, drifting
    heading_deg: float = 0.0
    port_id: str | None = None
    area_nm: float = 4.0
    label: str = ""


Phase = Leg | Stay


def time_profile(
    route: Route,
    start_s: float,
    *,
    cruise_kn: float | None = None,
    duration_s: float | None = None,
    what: str = "leg",
) -> Leg:
    """The leg sailing `route` from `start_s`, at `cruise_kn` or in exactly `duration_s`.

    Speed on each segment is the cruise speed capped by the route's speed limits; with a
    duration, the cruise speed is solved for (the time is monotonic in it, so by bisection).
    """
    ds = np.diff(route.cum_nm)
    seg_limit = np.minimum(route.limit_kn[:-1], route.limit_kn[1:])

    def hours(v: float) -> float:
        return float(np.sum(ds / np.minimum(seg_limit, v)))

    if cruise_kn is None:
        if duration_s is None or duration_s <= 0:
            raise StraitwatchError(f"{what}: needs a positive duration or a cruise speed")
        target_h = duration_s / 3600.0
        lo, hi = 0.05, 60.0
        if hours(hi) > target_h:
            raise StraitwatchError(
                f"{what}: {route.length_nm:.0f} nm in {target_h:.1f} h is not possible "
                "within the speed limits"
            )
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if hours(mid) > target_h else (lo, mid)
        cruise_kn = 0.5 * (lo + hi)
    seg_speed = np.minimum(seg_limit, cruise_kn)
    seg_s = np.where(ds > 0, ds / seg_speed * 3600.0, 0.0)
    cum = np.concatenate([[0.0], np.cumsum(seg_s)])
    # arrive on a whole second, as every other phase boundary is: fixes (whole seconds) then
    # fall unambiguously before or after it
    total = float(duration_s) if duration_s is not None else float(max(round(cum[-1]), 1))
    cum_t = start_s + cum * (total / cum[-1]) if cum[-1] > 0 else np.full(len(cum), start_s)
    cum_t[-1] = start_s + total
    return Leg(route=route, cum_t=cum_t, cruise_kn=float(cruise_kn), label=what)


# --------------------------------------------------------------------------- sampling


def fix_times(
    rng: np.random.Generator, phases: list[Phase], sampling: Sampling
) -> list[np.ndarray]:
    """Report instants for each phase, continuing one phase's rhythm into the next."""
    out = []
    last = None
    for phase in phases:
        lo, hi = _interval(phase, sampling)
        first = phase.start_s if last is None else max(phase.start_s, last + rng.uniform(lo, hi))
        span = phase.end_s - first
        if span <= 0:
            out.append(np.empty(0))
            continue
        n = int(span / lo) + 2
        t = np.ceil(first + np.concatenate([[0.0], np.cumsum(rng.uniform(lo, hi, n))]))
        t = t[t < phase.end_s]
        out.append(t)
        if len(t):
            last = float(t[-1])
    return out


def _interval(phase: Phase, sampling: Sampling) -> tuple[float, float]:
    if isinstance(phase, Leg):
        return (
            sampling.slow_interval_s
            if phase.nav_status == STATUS_FISHING
            else sampling.underway_interval_s
        )
    if phase.state == "drifting":
        return sampling.slow_interval_s
    return sampling.stationary_interval_s


def leg_fixes(leg: Leg, t: np.ndarray) -> dict[str, np.ndarray]:
    """Noise-free state on a leg at instants t."""
    route = leg.route
    s = np.interp(t, leg.cum_t, route.cum_nm)
    lon = np.interp(s, route.cum_nm, route.lon)
    lat = np.interp(s, route.cum_nm, route.lat)
    seg = np.clip(np.searchsorted(leg.cum_t, t, side="right") - 1, 0, len(route.lon) - 2)
    dt = np.diff(leg.cum_t)
    speed = np.where(dt > 0, np.diff(route.cum_nm) / np.where(dt > 0, dt, 1.0) * 3600.0, 0.0)
    course = bearing_deg(route.lon, route.lat)
    return {
        "lon": lon,
        "lat": lat,
        "sog": speed[seg],
        "cog": course[seg],
        "heading": course[seg],
        "status": np.full(len(t), leg.nav_status),
    }


def _wander(rng: np.random.Generator, n_terms: int, t: np.ndarray, period_h: tuple[float, float]):
    """A smooth random signal of unit amplitude: a sum of sinusoids, and its time derivative."""
    omega = 2 * np.pi / (rng.uniform(*period_h, n_terms) * 3600.0)
    phase = rng.uniform(0, 2 * np.pi, n_terms)
    amp = rng.uniform(0.5, 1.0, n_terms)
    amp /= amp.sum()
    arg = np.outer(t, omega) + phase
    return (np.sin(arg) * amp).sum(axis=1), (np.cos(arg) * amp * omega).sum(axis=1)


def stay_fixes(stay: Stay, t: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Noise-free state during a stay at instants t."""
    n = len(t)
    lon0, lat0 = stay.centre
    coslat = np.cos(np.radians(lat0))
    if stay.state == "moored":
        return {
            "lon": np.full(n, lon0),
            "lat": np.full(n, lat0),
            "sog": np.zeros(n),
            "cog": rng.uniform(0, 360, n),
            "heading": np.full(n, stay.heading_deg),
            "status": np.full(n, STATUS_MOORED),
        }
    if stay.state == "anchored":
        # swinging round the anchor with wind and tide, ~60 m of chain and hull
        theta, dtheta = _wander(rng, 3, t, (3.0, 14.0))
        heading = (stay.heading_deg + 70.0 * theta) % 360.0
        radius_nm = 60.0 / M_PER_NM
        back = np.radians(heading + 180.0)
        return {
            "lon": lon0 + radius_nm * np.sin(back) / (NM_PER_DEG_LAT * coslat),
            "lat": lat0 + radius_nm * np.cos(back) / NM_PER_DEG_LAT,
            "sog": np.abs(radius_nm * np.radians(70.0) * dtheta * 3600.0),
            "cog": (heading + 90.0 * np.sign(dtheta)) % 360.0,
            "heading": heading,
            "status": np.full(n, STATUS_AT_ANCHOR),
        }
    # drifting: a slow wander round the holding point that starts and ends on it, so that
    # the legs before and after join without a jump
    ramp_s = min(3 * 3600.0, 0.25 * (stay.end_s - stay.start_s))
    env = np.clip(np.minimum(t - stay.start_s, stay.end_s - t) / ramp_s, 0.0, 1.0)
    east, _ = _wander(rng, 4, t, (10.0, 40.0))
    north, _ = _wander(rng, 4, t, (10.0, 40.0))
    x_nm = stay.area_nm * env * east
    y_nm = stay.area_nm * env * north
    lon = lon0 + x_nm / (NM_PER_DEG_LAT * coslat)
    lat = lat0 + y_nm / NM_PER_DEG_LAT
    # speed and course from the motion between neighbouring instants
    vx = np.gradient(x_nm, t) * 3600.0 if n > 1 else np.zeros(n)
    vy = np.gradient(y_nm, t) * 3600.0 if n > 1 else np.zeros(n)
    course = np.degrees(np.arctan2(vx, vy)) % 360.0
    drift = 25.0 * _wander(rng, 2, t, (2.0, 8.0))[0]
    return {
        "lon": lon,
        "lat": lat,
        "sog": np.hypot(vx, vy),
        "cog": course,
        "heading": (course + drift) % 360.0,
        "status": np.full(n, STATUS_UNDER_WAY),
    }


def vessel_fixes(
    mmsi: int,
    phases: list[Phase],
    rng: np.random.Generator,
    sampling: Sampling,
    dark: Sequence[tuple[float, float]] = (),
) -> pd.DataFrame:
    """All fixes a vessel reports during its phases, noise added, dark periods removed."""
    times = fix_times(rng, phases, sampling)
    parts = []
    for phase, t in zip(phases, times, strict=True):
        if not len(t):
            continue
        state = leg_fixes(phase, t) if isinstance(phase, Leg) else stay_fixes(phase, t, rng)
        state["ts"] = t
        parts.append(state)
    if not parts:
        return pd.DataFrame({c: [] for c in (*FIX_COLUMNS, "true_lat", "true_lon")})
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cols["ts"])
    keep = np.ones(n, dtype=bool)
    for begin, until in dark:
        keep &= ~((cols["ts"] >= begin) & (cols["ts"] < until))
    keep &= ~_dropouts(rng, cols["ts"], sampling)
    # receiver noise
    sigma_deg = sampling.position_noise_m / M_PER_NM / NM_PER_DEG_LAT
    coslat = np.cos(np.radians(cols["lat"]))
    lat = cols["lat"] + rng.normal(0.0, sigma_deg, n)
    lon = cols["lon"] + rng.normal(0.0, sigma_deg, n) / coslat
    moving = cols["sog"] > 0.05
    sog = np.where(moving, np.maximum(cols["sog"] + rng.normal(0, sampling.sog_noise_kn, n), 0), 0)
    cog = (cols["cog"] + np.where(moving, rng.normal(0, sampling.cog_noise_deg, n), 0)) % 360.0
    heading = np.round(cols["heading"] + rng.normal(0, sampling.heading_noise_deg, n)) % 360.0
    lon = (lon + 180.0) % 360.0 - 180.0
    return pd.DataFrame(
        {
            "mmsi": np.full(n, mmsi, dtype=np.int64),
            "ts": cols["ts"].astype(np.int64),
            "lat": lat,
            "lon": lon,
            "sog": sog,
            "cog": cog,
            "heading": heading,
            "status": cols["status"].astype(np.int64),
            # the noise-free position, for a fix that noise would put ashore
            "true_lat": cols["lat"],
            "true_lon": (cols["lon"] + 180.0) % 360.0 - 180.0,
        }
    )[keep]


def _dropouts(rng: np.random.Generator, ts: np.ndarray, sampling: Sampling) -> np.ndarray:
    """Mask of fixes lost to short reception dropouts."""
    if not len(ts) or sampling.dropouts_per_day <= 0:
        return np.zeros(len(ts), dtype=bool)
    days = (ts[-1] - ts[0]) / 86400.0
    n = rng.poisson(sampling.dropouts_per_day * days)
    starts = rng.uniform(ts[0], ts[-1], n)
    ends = starts + rng.uniform(*sampling.dropout_minutes, n) * 60.0
    lost = np.zeros(len(ts), dtype=bool)
    for a, b in zip(starts, ends, strict=True):  # a few per vessel
        lost |= (ts >= a) & (ts < b)
    return lost
