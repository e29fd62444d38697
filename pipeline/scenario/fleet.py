"""Background traffic: hundreds of made-up ships sailing the scenario's lanes through the straits.

Identities are synthetic but well formed (MMSIs with real flag MIDs, IMO numbers with valid
check digits, call signs with the flag's ITU prefix). Each ship sails one lane once, one way,
at its own speed and lane offset, some calling at a port inside a strait and going back; a few
switch AIS off around a chokepoint, so that their passage is only inferred.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass

import numpy as np
import shapely

from pipeline.errors import StraitwatchError
from pipeline.scenario.config import Identity, Lane, Scenario
from pipeline.scenario.geography import Geography, Route
from pipeline.scenario.motion import Leg, Stay, time_profile
from pipeline.scenario.plan import VesselPlan

FORBIDDEN_NAME_PARTS = ("SPARTA",)  # background names must never look like the story's ships


@dataclass(frozen=True)
class FleetSettings:
    """How the background fleet is drawn."""

    vessels: int = 300
    lane_offset_nm: tuple[float, float] = (0.3, 1.5)  # to starboard of the lane's centre
    trim_fraction: tuple[float, float] = (0.0, 0.12)  # of the lane left out at an open end


def plan_fleet(
    scenario: Scenario,
    geo: Geography,
    settings: FleetSettings,
    seed: int,
    taken_mmsi: set[int],
) -> list[VesselPlan]:
    """Plans for the background fleet, deterministic from `seed`.

    Every lane's route is checked at sea even when the fleet is empty.
    """
    bg = scenario.background
    rng = np.random.default_rng([seed, 1])
    n = settings.vessels
    identities = _identities(bg, n, rng, taken_mmsi)
    lane_w = np.array([lane.weight for lane in bg.lanes])
    lane_of = rng.choice(len(bg.lanes), size=n, p=lane_w / lane_w.sum())
    routes = {}
    for lane in bg.lanes:
        route = geo.route(lane.route)
        geo.check_at_sea(route, f"{scenario.path.name}: background lane {lane.name!r}")
        routes[lane.name] = route
    if n == 0:
        return []
    type_speed = {t.ship_type: t.speed_kn for t in bg.ship_types}

    plans = []
    for i in range(n):  # one plan per ship (hundreds), each vectorised inside
        lane = bg.lanes[lane_of[i]]
        ident = identities[i]
        vrng = np.random.default_rng([seed, 2, i])
        speed = float(vrng.uniform(*type_speed[ident.ship_type]))
        phases, forward = _lane_phases(
            lane, routes[lane.name], geo, settings, speed, scenario, vrng
        )
        plans.append(
            VesselPlan(
                key=f"background-{i:04d}",
                role="background",
                identity=ident,
                phases=tuple(phases),
                lane=lane.name,
                forward=forward,
            )
        )
    return _with_dark_passages(plans, scenario, geo)


def _lane_phases(
    lane: Lane,
    route: Route,
    geo: Geography,
    settings: FleetSettings,
    speed_kn: float,
    scenario: Scenario,
    rng: np.random.Generator,
) -> tuple[list[Leg | Stay], bool]:
    """The phases of one ship on a lane, and whether it sails the lane forwards."""
    start, end = scenario.start.timestamp(), scenario.end.timestamp()
    offset = float(rng.uniform(*settings.lane_offset_nm))
    trim = rng.uniform(*settings.trim_fraction, 2) * route.length_nm
    if lane.call_port is not None:
        inbound = _offset_at_sea(route, offset, geo).between(trim[0], route.length_nm)
        outbound = _offset_at_sea(route.reversed(), offset, geo)
        outbound = outbound.between(0.0, outbound.length_nm - trim[1])
        leg_in = time_profile(inbound, 0.0, cruise_kn=speed_kn)
        stay_s = float(rng.uniform(*lane.call_hours)) * 3600.0
        leg_out = time_profile(outbound, 0.0, cruise_kn=speed_kn)
        total = leg_in.end_s + stay_s + leg_out.end_s
        t0 = _start_time(rng, start, end, total, lane)
        port = scenario.ports[lane.call_port]
        return [
            _shifted(leg_in, t0),
            Stay(
                start_s=t0 + leg_in.end_s,
                end_s=t0 + leg_in.end_s + stay_s,
                centre=port.berth,
                state="moored",
                heading_deg=port.berth_heading_deg,
                port_id=port.port_id,
            ),
            _shifted(leg_out, t0 + leg_in.end_s + stay_s),
        ], True
    forward = not (lane.both_ways and rng.uniform() < 0.5)
    if not forward:
        route = route.reversed()
    sailed = _offset_at_sea(route, offset, geo)
    sailed = sailed.between(trim[0], sailed.length_nm - trim[1])
    leg = time_profile(sailed, 0.0, cruise_kn=speed_kn)
    return [_shifted(leg, _start_time(rng, start, end, leg.end_s, lane))], forward


def _offset_at_sea(route: Route, offset_nm: float, geo: Geography) -> Route:
    """The route moved to starboard by as much of offset_nm as keeps it off land."""
    for factor in (1.0, 0.5, 0.25):
        moved = geo.offset(route, offset_nm * factor)
        if not geo.path_on_land(moved.lon, moved.lat).any():
            return moved
    return route


def _start_time(
    rng: np.random.Generator, start: float, end: float, duration: float, lane: Lane
) -> float:
    slack = end - start - duration
    if slack <= 0:
        raise StraitwatchError(f"background lane {lane.name!r} takes longer than the scenario")
    return float(np.floor(start + rng.uniform(0, slack)))


def _shifted(leg: Leg, t0: float) -> Leg:
    return Leg(
        route=leg.route,
        cum_t=leg.cum_t + t0,
        cruise_kn=leg.cruise_kn,
        nav_status=leg.nav_status,
        label=leg.label,
    )


def _with_dark_passages(
    plans: list[VesselPlan], scenario: Scenario, geo: Geography
) -> list[VesselPlan]:
    """Switch AIS off around the chokepoint for the first ships of each dark-passage lane.

    A ship qualifies when its silence fits inside its voyage and the straight line across the
    silence (all a detector sees) crosses every gate of the chokepoint.
    """
    out = list(plans)
    for spec in scenario.background.dark_passages:
        cp = scenario.chokepoints[spec.chokepoint_id]
        gates = [shapely.LineString(g) for g in cp.gates]
        done = 0
        for i, plan in enumerate(out):
            if done == spec.vessels:
                break
            if plan.lane != spec.lane or len(plan.phases) != 1 or plan.dark:
                continue
            leg = plan.phases[0]
            if not isinstance(leg, Leg):
                continue  # a ship that only stays passes nothing
            at_nm, _ = geo.crossings(leg.route, cp.reference)
            if len(at_nm) != 1:
                continue
            middle = float(leg.time_at_nm(at_nm)[0])
            begin, until = middle - spec.hours * 1800.0, middle + spec.hours * 1800.0
            if begin <= leg.start_s or until >= leg.end_s:
                continue  # too near the voyage's ends to be dark on both sides
            s = np.interp([begin, until], leg.cum_t, leg.route.cum_nm)
            chord = shapely.LineString(
                np.column_stack(
                    [
                        np.interp(s, leg.route.cum_nm, leg.route.lon),
                        np.interp(s, leg.route.cum_nm, leg.route.lat),
                    ]
                )
            )
            if not all(chord.intersects(g) for g in gates):
                continue
            out[i] = dataclasses.replace(plan, dark=((begin, until),))
            done += 1
        if done < spec.vessels:
            raise StraitwatchError(
                f"background lane {spec.lane!r}: only {done} of {spec.vessels} ships can go dark "
                f"across {spec.chokepoint_id} for {spec.hours:g} h; raise the fleet size or "
                "shorten the silence"
            )
    return out


# --------------------------------------------------------------------------- identities


def imo_with_check_digit(first_six: np.ndarray) -> np.ndarray:
    """Seven-digit IMO numbers from their first six digits (weights 7..2, sum mod 10)."""
    digits = (first_six[:, None] // 10 ** np.arange(5, -1, -1)) % 10
    check = (digits * np.arange(7, 1, -1)).sum(axis=1) % 10
    return first_six * 10 + check


def _identities(bg, n: int, rng: np.random.Generator, taken_mmsi: set[int]) -> list[Identity]:
    types = bg.ship_types
    type_w = np.array([t.weight for t in types])
    type_of = rng.choice(len(types), size=n, p=type_w / type_w.sum())
    flag_w = np.array([f.weight for f in bg.flags])
    flag_of = rng.choice(len(bg.flags), size=n, p=flag_w / flag_w.sum())

    mmsi = np.array([bg.flags[k].mid for k in flag_of]) * 1_000_000 + rng.integers(
        100_000, 1_000_000, n
    )
    imo = imo_with_check_digit(rng.integers(900_000, 990_000, n))
    seen_mmsi, seen_imo, seen_name = set(taken_mmsi), set(), set()
    first, second = bg.name_first, bg.name_second
    out = []
    for i in range(n):  # uniqueness needs the ones drawn before; a few hundred draws
        while int(mmsi[i]) in seen_mmsi:
            mmsi[i] = bg.flags[flag_of[i]].mid * 1_000_000 + rng.integers(100_000, 1_000_000)
        while int(imo[i]) in seen_imo:
            imo[i] = imo_with_check_digit(rng.integers(900_000, 990_000, 1))[0]
        name = ""
        while not name or name in seen_name or any(p in name for p in FORBIDDEN_NAME_PARTS):
            name = f"{first[rng.integers(len(first))]} {second[rng.integers(len(second))]}"
        seen_mmsi.add(int(mmsi[i]))
        seen_imo.add(int(imo[i]))
        seen_name.add(name)
        t = types[type_of[i]]
        length = float(np.round(rng.uniform(*t.length_m)))
        suffix = "".join(rng.choice(list(string.ascii_uppercase + string.digits), 4))
        out.append(
            Identity(
                mmsi=int(mmsi[i]),
                name=name,
                imo=str(int(imo[i])),
                callsign=bg.flags[flag_of[i]].callsign_prefix + suffix,
                ship_type=t.ship_type,
                length_m=length,
                width_m=float(np.round(length / 6.5)),
                draught_m=float(np.round(length / 22.0, 1)),
            )
        )
    return out
