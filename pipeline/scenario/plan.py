"""Turn a named vessel's itinerary into phases: legs on sea routes and stays, timed as told."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.errors import StraitwatchError
from pipeline.scenario.config import Identity, LonLat, Scenario, Stop, VesselStory
from pipeline.scenario.geography import NM_PER_DEG_LAT, Geography, Route, cumulative_nm, densify
from pipeline.scenario.motion import STATUS_FISHING, Leg, Phase, Stay, time_profile

TRAWL_SPEED_KN = 3.5


@dataclass(frozen=True, eq=False)
class VesselPlan:
    """Who a simulated vessel is and what it does, before any fix is drawn."""

    key: str
    role: str  # subject, decoy, background
    identity: Identity
    phases: tuple[Phase, ...]
    dark: tuple[tuple[float, float], ...] = ()  # AIS switched off, epoch seconds
    lane: str | None = None
    forward: bool = True  # sails its lane in the order the lane lists its points


def plan_story(
    story: VesselStory, scenario: Scenario, geo: Geography, rng: np.random.Generator
) -> VesselPlan:
    """Phases of a named vessel from its itinerary; raises on an impossible or implausible one."""
    stops = story.itinerary
    start, end = scenario.start.timestamp(), scenario.end.timestamp()
    phases: list[Phase] = []

    def where(i: int) -> str:
        return f"{scenario.path.name}: vessels.{story.key}.itinerary[{i}]"

    first = stops[0]
    if first.at is not None:
        leave = first.at.timestamp()
    else:
        arrive = first.arrive.timestamp() if first.arrive else start
        leave = first.depart.timestamp() if first.depart else end
        phases.extend(_stay(first, arrive, leave, scenario, geo, rng, where(0)))
    here = first.place
    for i, stop in enumerate(stops[1:], start=1):
        route = geo.route([here, *stop.via, stop.place])
        route = geo.offset(route, story.lane_offset_nm)
        geo.check_at_sea(route, where(i))
        target = stop.at or stop.arrive
        if target is not None:
            duration = target.timestamp() - leave
            if duration <= 0:
                raise StraitwatchError(f"{where(i)}: arrives before the previous stop is left")
            leg = time_profile(route, leave, duration_s=duration, what=where(i))
        elif stop.speed_kn is not None:
            leg = time_profile(route, leave, cruise_kn=stop.speed_kn, what=where(i))
        else:
            raise StraitwatchError(f"{where(i)}: give 'at', 'arrive' or 'speed_kn'")
        lo, hi = story.speed_range_kn
        if not lo <= leg.cruise_kn <= hi:
            raise StraitwatchError(
                f"{where(i)}: {route.length_nm:.0f} nm at {leg.cruise_kn:.1f} kn is outside "
                f"this ship's {lo:g}-{hi:g} kn; change the times or add a stay"
            )
        phases.append(leg)
        arrival = leg.end_s
        last = i == len(stops) - 1
        passing = stop.depart is None and stop.stay_h is None and stop.state is None
        if stop.at is not None or (passing and not last):
            leave = arrival
        else:
            if stop.depart is not None:
                leave = stop.depart.timestamp()
            elif stop.stay_h is not None:
                leave = arrival + stop.stay_h * 3600.0
            else:
                leave = end
            if leave <= arrival:
                raise StraitwatchError(
                    f"{where(i)}: arrives at {_iso(arrival)}, after its departure {_iso(leave)}"
                )
            phases.extend(_stay(stop, arrival, leave, scenario, geo, rng, where(i)))
        if leave > end + 1e-6:
            raise StraitwatchError(f"{where(i)}: runs past the scenario end {scenario.end}")
        here = stop.place
    dark = tuple((a.timestamp(), b.timestamp()) for a, b in story.dark)
    return VesselPlan(story.key, story.role, story.identity, tuple(phases), dark)


def _iso(t: float) -> str:
    return np.datetime64(int(t), "s").astype(str) + "Z"


def _stay(
    stop: Stop,
    begin: float,
    until: float,
    scenario: Scenario,
    geo: Geography,
    rng: np.random.Generator,
    where: str,
) -> list[Phase]:
    port = geo.port_of(stop.place)
    centre = geo.point(stop.place)
    state = stop.state or ("moored" if port else "drifting")
    if state == "fishing":
        return [fishing_leg(centre, stop.area_nm, begin, until, geo, rng, where)]
    if state == "moored" and port is None:
        raise StraitwatchError(f"{where}: only a port can be 'moored' at")
    return [
        Stay(
            start_s=begin,
            end_s=until,
            centre=centre,
            state=state,
            heading_deg=port.berth_heading_deg if port else float(rng.uniform(0, 360)),
            port_id=port.port_id if port and state == "moored" else None,
            area_nm=stop.area_nm,
            label=where,
        )
    ]


def fishing_leg(
    centre: LonLat,
    area_nm: float,
    begin: float,
    until: float,
    geo: Geography,
    rng: np.random.Generator,
    where: str,
) -> Leg:
    """Trawling: tows between random points of the fishing ground, at about 3.5 kn."""
    hours = (until - begin) / 3600.0
    n_points = max(2, math.ceil(hours * TRAWL_SPEED_KN / (0.9 * area_nm)))
    # uniform in the disc, drawn in one go with spare points in case some fall on land
    r = area_nm * np.sqrt(rng.uniform(0, 1, 3 * n_points))
    a = rng.uniform(0, 2 * np.pi, 3 * n_points)
    coslat = math.cos(math.radians(centre[1]))
    lon = centre[0] + r * np.sin(a) / (NM_PER_DEG_LAT * coslat)
    lat = centre[1] + r * np.cos(a) / NM_PER_DEG_LAT
    sea = ~geo.forbidden_land(lon, lat)
    lon, lat = lon[sea][:n_points], lat[sea][:n_points]
    if len(lon) < n_points:
        raise StraitwatchError(f"{where}: the fishing ground is mostly on land")
    lon = np.concatenate([[centre[0]], lon, [centre[0]]])
    lat = np.concatenate([[centre[1]], lat, [centre[1]]])
    dlon, dlat, _, _ = densify(lon, lat, geo.step_nm)
    route = Route(
        lon=dlon,
        lat=dlat,
        cum_nm=cumulative_nm(dlon, dlat),
        fixed=np.zeros(len(dlon), dtype=bool),
        limit_kn=np.full(len(dlon), np.inf),
    )
    geo.check_at_sea(route, where)
    leg = time_profile(route, begin, duration_s=until - begin, what=where)
    return Leg(
        route=leg.route,
        cum_t=leg.cum_t,
        cruise_kn=leg.cruise_kn,
        nav_status=STATUS_FISHING,
        label=where,
    )
