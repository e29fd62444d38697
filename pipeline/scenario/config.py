"""A scenario's story and geography, read from a TOML file into frozen dataclasses.

The TOML file (seeds/scenarios/demo.toml for the demo) holds what is true of the world and of
the story: ports and their approaches, named sea points, fairways through narrows, reference
lines across chokepoints, the named vessels and their itineraries, the background traffic
lanes and the reports. How the fixes are generated (seed, intervals, noise) is not here but in
`pipeline.simulate.DemoScenario`. Every error names the file and the key that is wrong.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import StraitwatchError
from pipeline.reports.claims import CSV_COLUMNS
from pipeline.vessels import SHIP_MMSI_MAX, SHIP_MMSI_MIN, imo_is_valid

LonLat = tuple[float, float]
# A point of a route: a named place, "port:<id>", "fairway:<name>", or literal lon/lat.
RoutePoint = str | LonLat

STAY_STATES = ("moored", "anchored", "drifting", "fishing")
ROLES = ("subject", "decoy")
# the `straitwatch import-reports` CSV layout (design notes), one definition for both sides
REPORT_COLUMNS = tuple(CSV_COLUMNS)
_SLUG = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
_PORT_ID = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")


@dataclass(frozen=True)
class Port:
    """A port the scenario's ships call at: where they berth and how they reach open water."""

    port_id: str
    name: str
    berth: LonLat
    berth_heading_deg: float
    # Fixes within this distance of the berth may lie on the land mask (quays, basins).
    radius_nm: float
    # Berth -> open water; sailed outwards on departure and in reverse on arrival.
    approach: tuple[LonLat, ...] = ()
    # More berths, for ships in port at the same time: a stop "port:RUBLT#2" uses the first.
    other_berths: tuple[LonLat, ...] = ()

    @property
    def berths(self) -> tuple[LonLat, ...]:
        return (self.berth, *self.other_berths)


@dataclass(frozen=True)
class Fairway:
    """A hand-drawn centre line through water that routing alone would not find."""

    name: str
    waypoints: tuple[LonLat, ...]
    max_speed_kn: float | None = None
    # Narrower than the land mask's 1 km cells (Bosphorus, canals): fixes within half_width_m
    # of the centre line are not checked against the mask.
    narrow: bool = False
    half_width_m: float = 1000.0


@dataclass(frozen=True)
class ChokepointLines:
    """Lines across a chokepoint, drawn with the first direction's origin on the left.

    `gates` are crossed in order (side_a to side_b) by a passage, which the ground truth times
    at its last gate; `reference` is the narrows, where a dark passage's silence is centred.
    """

    chokepoint_id: str
    name: str
    first_direction: str
    second_direction: str
    reference: tuple[LonLat, ...]
    gates: tuple[tuple[LonLat, ...], ...]


@dataclass(frozen=True)
class Stop:
    """One entry of an itinerary: where the vessel is, and when.

    Timing, one of: `at` (passes the place at that instant); `arrive`/`depart` (stays between);
    `speed_kn` (arrives when that cruise speed brings it there, then stays `stay_h` hours or
    until `depart`, or passes on when neither nor a `state` is given); a first stop with only
    `depart` is occupied from the scenario start, a last stop without `depart` until its end.
    """

    place: RoutePoint
    via: tuple[RoutePoint, ...] = ()
    at: datetime | None = None
    arrive: datetime | None = None
    depart: datetime | None = None
    speed_kn: float | None = None
    stay_h: float | None = None  # with speed_kn: stay this long after arriving
    state: str | None = None  # moored (ports), anchored, drifting (sea), fishing
    area_nm: float = 4.0  # radius of a drifting or fishing area


@dataclass(frozen=True)
class Identity:
    """Static AIS data of a vessel as broadcast (message 5) and carried in NOAA files."""

    mmsi: int
    name: str
    imo: str | None = None  # seven digits, check digit valid
    callsign: str | None = None
    ship_type: int = 70
    length_m: float | None = None
    width_m: float | None = None
    draught_m: float | None = None
    transceiver_class: str = "A"


@dataclass(frozen=True)
class VesselStory:
    """A named vessel of the story (the ships of the report, and decoys sharing their name)."""

    key: str
    role: str
    identity: Identity
    speed_range_kn: tuple[float, float]
    itinerary: tuple[Stop, ...]
    dark: tuple[tuple[datetime, datetime], ...] = ()
    lane_offset_nm: float = 0.0
    notes: str = ""


@dataclass(frozen=True)
class Lane:
    """A background traffic lane: a route sailed one way or both, optionally with a port call."""

    name: str
    route: tuple[RoutePoint, ...]
    weight: float
    both_ways: bool = True
    # chokepoint passages a ship sailing the route forwards makes, "gibraltar:westbound"
    passes: tuple[str, ...] = ()
    call_port: str | None = None  # sail to this port (last route point), stay, sail back
    call_hours: tuple[float, float] = (8.0, 30.0)


@dataclass(frozen=True)
class DarkPassage:
    """Background ships of a lane that switch AIS off around a chokepoint (a dark transit).

    The silence lasts `hours`, centred on the passage: longer than a detector's AIS-gap
    threshold, and short enough that the straight line between the last fix before and the
    first fix after still crosses every gate, so the passage can be inferred.
    """

    lane: str
    chokepoint_id: str
    vessels: int
    hours: float


@dataclass(frozen=True)
class ShipTypeMix:
    ship_type: int
    weight: float
    speed_kn: tuple[float, float]
    length_m: tuple[float, float]


@dataclass(frozen=True)
class FlagMix:
    mid: int
    weight: float
    callsign_prefix: str


@dataclass(frozen=True)
class Background:
    """What background vessels look like: type and flag mixes, words for their names."""

    ship_types: tuple[ShipTypeMix, ...]
    flags: tuple[FlagMix, ...]
    name_first: tuple[str, ...]
    name_second: tuple[str, ...]
    lanes: tuple[Lane, ...]
    dark_passages: tuple[DarkPassage, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """Everything a scenario file says."""

    path: Path
    title: str
    start: datetime
    end: datetime
    ports: Mapping[str, Port]
    places: Mapping[str, LonLat]
    fairways: Mapping[str, Fairway]
    chokepoints: Mapping[str, ChokepointLines]
    vessels: tuple[VesselStory, ...]
    background: Background
    reports: tuple[Mapping[str, str], ...] = field(default=())


# --------------------------------------------------------------------------- parsing


class _Node:
    """A value inside the TOML document, with its dotted path for error messages."""

    def __init__(self, file: Path, path: str, value: Any) -> None:
        self.file, self.path, self.value = file, path, value

    def error(self, message: str) -> StraitwatchError:
        return StraitwatchError(f"{self.file.name}: {self.path}: {message}")

    def child(self, key: str | int) -> _Node:
        sep = f"[{key}]" if isinstance(key, int) else f".{key}"
        if isinstance(key, int):
            value = self.value[key]
        elif isinstance(self.value, dict):
            value = self.value.get(key)
        else:
            raise self.error("expected a table")
        return _Node(self.file, f"{self.path}{sep}" if self.path else str(key), value)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def table(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a table, got {type(self.value).__name__}")
        return self.value

    def items(self) -> list[tuple[str, _Node]]:
        return [(k, self.child(k)) for k in self.table()]

    def array(self) -> list[_Node]:
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise self.error(f"expected an array, got {type(self.value).__name__}")
        return [self.child(i) for i in range(len(self.value))]

    def text(self, default: str | None = None) -> str:
        if self.value is None and default is not None:
            return default
        if not isinstance(self.value, str):
            raise self.error(f"expected text, got {self.value!r}")
        return self.value

    def optional_text(self) -> str | None:
        return None if self.value in (None, "") else self.text()

    def number(self, default: float | None = None, *, positive: bool = False) -> float:
        if self.value is None and default is not None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error(f"expected a number, got {self.value!r}")
        if not math.isfinite(self.value) or (positive and self.value <= 0):
            raise self.error(f"expected a {'positive ' if positive else ''}number")
        return float(self.value)

    def optional_number(self) -> float | None:
        return None if self.value is None else self.number()

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {self.value!r}")
        return self.value

    def boolean(self, default: bool) -> bool:
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {self.value!r}")
        return self.value

    def when(self) -> datetime:
        if not isinstance(self.value, datetime) or self.value.tzinfo is None:
            raise self.error(
                f"expected a UTC date-time such as 2025-02-09T06:00:00Z, got {self.value!r}"
            )
        return self.value.astimezone(UTC)

    def optional_when(self) -> datetime | None:
        return None if self.value is None else self.when()

    def lonlat(self) -> LonLat:
        v = self.value
        if (
            not isinstance(v, list)
            or len(v) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        ):
            raise self.error(f"expected [lon, lat] in degrees, got {v!r}")
        lon, lat = float(v[0]), float(v[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise self.error(f"[lon, lat] out of range: {v!r}")
        return lon, lat

    def line(self, minimum: int = 2) -> tuple[LonLat, ...]:
        points = tuple(n.lonlat() for n in self.array())
        if len(points) < minimum:
            raise self.error(f"expected at least {minimum} [lon, lat] points")
        return points

    def pair(self, *, positive: bool = False) -> tuple[float, float]:
        items = self.array()
        if len(items) != 2:
            raise self.error(f"expected [low, high], got {self.value!r}")
        lo, hi = (n.number(positive=positive) for n in items)
        if lo > hi:
            raise self.error(f"low {lo} is above high {hi}")
        return lo, hi

    def route_point(self) -> RoutePoint:
        return self.text() if isinstance(self.value, str) else self.lonlat()


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file. Raises StraitwatchError naming the key at fault."""
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as exc:
        raise StraitwatchError(f"scenario file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StraitwatchError(f"{path.name}: not valid TOML: {exc}") from exc
    root = _Node(path, "", doc)
    head = root.child("scenario")
    start, end = head.child("start").when(), head.child("end").when()
    if end <= start:
        raise head.error("end must be after start")

    ports = {pid: _port(pid, node) for pid, node in root.child("ports").items()}
    places = {name: node.lonlat() for name, node in root.child("places").items()}
    fairways = {name: _fairway(name, node) for name, node in root.child("fairways").items()}
    chokepoints = {cid: _chokepoint(cid, node) for cid, node in root.child("chokepoints").items()}
    vessels = tuple(_vessel(key, node) for key, node in root.child("vessels").items())
    background = _background(root.child("background"))
    reports = tuple(_report(node) for node in root.child("reports").array())

    scenario = Scenario(
        path=path,
        title=head.child("title").text(),
        start=start,
        end=end,
        ports=ports,
        places=places,
        fairways=fairways,
        chokepoints=chokepoints,
        vessels=vessels,
        background=background,
        reports=reports,
    )
    _check_references(scenario, root)
    return scenario


def _port(port_id: str, node: _Node) -> Port:
    if not _PORT_ID.match(port_id):
        raise node.error("a port is keyed by its UN/LOCODE without the space, e.g. SYTTS")
    return Port(
        port_id=port_id,
        name=node.child("name").text(),
        berth=node.child("berth").lonlat(),
        berth_heading_deg=node.child("berth_heading_deg").number(0.0) % 360.0,
        radius_nm=node.child("radius_nm").number(positive=True),
        approach=node.child("approach").line(minimum=0) if node.has("approach") else (),
        other_berths=node.child("other_berths").line(minimum=0) if node.has("other_berths") else (),
    )


def _fairway(name: str, node: _Node) -> Fairway:
    speed = node.child("max_speed_kn")
    return Fairway(
        name=name,
        waypoints=node.child("waypoints").line(),
        max_speed_kn=None if speed.value is None else speed.number(positive=True),
        narrow=node.child("narrow").boolean(False),
        half_width_m=node.child("half_width_m").number(1000.0, positive=True),
    )


def _chokepoint(cid: str, node: _Node) -> ChokepointLines:
    if not _SLUG.match(cid):
        raise node.error("a chokepoint is keyed by its slug, e.g. gibraltar")
    reference = node.child("reference").line()
    gates = tuple(n.line() for n in node.child("gates").array()) or (reference,)
    return ChokepointLines(
        chokepoint_id=cid,
        name=node.child("name").text(),
        first_direction=node.child("first_direction").text(),
        second_direction=node.child("second_direction").text(),
        reference=reference,
        gates=gates,
    )


def _identity(node: _Node) -> Identity:
    mmsi = node.child("mmsi").integer()
    if not SHIP_MMSI_MIN <= mmsi <= SHIP_MMSI_MAX:
        raise node.child("mmsi").error("not a ship MMSI (201000000-775999999)")
    imo = node.child("imo").optional_text()
    if imo is not None and not imo_is_valid(imo):
        raise node.child("imo").error(f"{imo!r} is not a valid IMO number (check digit)")
    ship_type = node.child("ship_type").integer()
    if not 0 <= ship_type <= 99:
        raise node.child("ship_type").error("AIS ship type is 0-99")
    return Identity(
        mmsi=mmsi,
        name=node.child("name").text(),
        imo=imo,
        callsign=node.child("callsign").optional_text(),
        ship_type=ship_type,
        length_m=node.child("length_m").optional_number(),
        width_m=node.child("width_m").optional_number(),
        draught_m=node.child("draught_m").optional_number(),
        transceiver_class=node.child("transceiver_class").text("A"),
    )


def _stop(node: _Node) -> Stop:
    state = node.child("state").optional_text()
    if state is not None and state not in STAY_STATES:
        raise node.child("state").error(f"expected one of {', '.join(STAY_STATES)}")
    speed = node.child("speed_kn")
    stay = node.child("stay_h")
    stop = Stop(
        place=node.child("place").route_point(),
        via=tuple(n.route_point() for n in node.child("via").array()),
        at=node.child("at").optional_when(),
        arrive=node.child("arrive").optional_when(),
        depart=node.child("depart").optional_when(),
        speed_kn=None if speed.value is None else speed.number(positive=True),
        stay_h=None if stay.value is None else stay.number(positive=True),
        state=state,
        area_nm=node.child("area_nm").number(4.0, positive=True),
    )
    if stop.at is not None and (stop.arrive or stop.depart or stop.speed_kn):
        raise node.error("'at' (passing) excludes arrive, depart and speed_kn")
    if stop.arrive is not None and stop.speed_kn is not None:
        raise node.error("give either 'arrive' or 'speed_kn', not both")
    if stop.stay_h is not None and stop.depart is not None:
        raise node.error("give either 'stay_h' or 'depart', not both")
    if stop.arrive and stop.depart and stop.depart <= stop.arrive:
        raise node.error("'depart' must be after 'arrive'")
    return stop


def _vessel(key: str, node: _Node) -> VesselStory:
    role = node.child("role").text()
    if role not in ROLES:
        raise node.child("role").error(f"expected one of {', '.join(ROLES)}")
    itinerary = tuple(_stop(n) for n in node.child("itinerary").array())
    if not itinerary:
        raise node.child("itinerary").error("a vessel needs at least one stop")
    dark = []
    for n in node.child("dark").array():
        begin, until = n.child("from").when(), n.child("until").when()
        if until <= begin:
            raise n.error("'until' must be after 'from'")
        dark.append((begin, until))
    return VesselStory(
        key=key,
        role=role,
        identity=_identity(node),
        speed_range_kn=node.child("speed_range_kn").pair(positive=True),
        itinerary=itinerary,
        dark=tuple(dark),
        lane_offset_nm=node.child("lane_offset_nm").number(0.0),
        notes=node.child("notes").text(""),
    )


def _background(node: _Node) -> Background:
    ship_types = tuple(
        ShipTypeMix(
            ship_type=n.child("ship_type").integer(),
            weight=n.child("weight").number(positive=True),
            speed_kn=n.child("speed_kn").pair(positive=True),
            length_m=n.child("length_m").pair(positive=True),
        )
        for n in node.child("ship_types").array()
    )
    flags = tuple(
        FlagMix(
            mid=n.child("mid").integer(),
            weight=n.child("weight").number(positive=True),
            callsign_prefix=n.child("callsign_prefix").text(),
        )
        for n in node.child("flags").array()
    )
    lanes = []
    for n in node.child("lanes").array():
        call = n.child("call")
        lanes.append(
            Lane(
                name=n.child("name").text(),
                route=tuple(p.route_point() for p in n.child("route").array()),
                weight=n.child("weight").number(positive=True),
                both_ways=n.child("both_ways").boolean(True),
                passes=tuple(p.text() for p in n.child("passes").array()),
                call_port=call.child("port").text() if call.value is not None else None,
                call_hours=call.child("hours").pair(positive=True)
                if call.value is not None
                else (8.0, 30.0),
            )
        )
    dark = tuple(
        DarkPassage(
            lane=n.child("lane").text(),
            chokepoint_id=n.child("chokepoint").text(),
            vessels=n.child("vessels").integer(),
            hours=n.child("hours").number(positive=True),
        )
        for n in node.child("dark_passages").array()
    )
    words = node.child("names")
    background = Background(
        ship_types=ship_types,
        flags=flags,
        name_first=tuple(w.text().upper() for w in words.child("first").array()),
        name_second=tuple(w.text().upper() for w in words.child("second").array()),
        lanes=tuple(lanes),
        dark_passages=dark,
    )
    if not (ship_types and flags and lanes and background.name_first and background.name_second):
        raise node.error("needs ship_types, flags, lanes and names.first / names.second")
    return background


def _report(node: _Node) -> dict[str, str]:
    unknown = set(node.table()) - set(REPORT_COLUMNS)
    if unknown:
        raise node.error(f"unknown report field(s): {', '.join(sorted(unknown))}")
    row: dict[str, str] = {}
    for column in REPORT_COLUMNS:
        value = node.table().get(column)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif value is not None and not isinstance(value, str):
            value = value.isoformat() if hasattr(value, "isoformat") else str(value)
        row[column] = value or ""
    if not row["report_id"]:
        raise node.error("a report needs a report_id")
    return row


def _check_references(s: Scenario, root: _Node) -> None:
    """Every name used in a route or itinerary must be defined, every time inside the period."""

    def check_point(point: RoutePoint, where: _Node, *, stop: bool) -> None:
        if not isinstance(point, str):
            return
        kind, _, name = point.partition(":")
        if kind == "port":
            port_id, _, number = name.partition("#")
            port = s.ports.get(port_id)
            if port is not None and (
                not number or (number.isdigit() and 1 <= int(number) <= len(port.berths))
            ):
                return
            raise where.error(f"unknown port or berth {point!r}")
        if kind == "fairway" and name in s.fairways:
            if stop:
                raise where.error(f"{point!r}: a fairway can be passed (via) but not stopped at")
            return
        if not name and point in s.places:
            return
        raise where.error(
            f"unknown place {point!r} (define it under [places], [ports] or [fairways])"
        )

    for v in s.vessels:
        vnode = root.child("vessels").child(v.key)
        for i, stop in enumerate(v.itinerary):
            snode = vnode.child("itinerary").child(i)
            check_point(stop.place, snode.child("place"), stop=True)
            for p in stop.via:
                check_point(p, snode.child("via"), stop=False)
            for t in (stop.at, stop.arrive, stop.depart):
                if t is not None and not s.start <= t <= s.end:
                    raise snode.error(f"{t.isoformat()} is outside the scenario period")
    lanes = {lane.name for lane in s.background.lanes}
    for i, lane in enumerate(s.background.lanes):
        lnode = root.child("background").child("lanes").child(i)
        if len(lane.route) < 2:
            raise lnode.child("route").error("a lane needs at least two points")
        for p in lane.route:
            check_point(p, lnode.child("route"), stop=False)
        if lane.call_port is not None and lane.route[-1] != f"port:{lane.call_port}":
            raise lnode.child("call").error("the called port must be the lane's last point")
        for spec in lane.passes:
            cid, _, direction = spec.partition(":")
            cp = s.chokepoints.get(cid)
            if cp is None or direction not in (cp.first_direction, cp.second_direction):
                raise lnode.child("passes").error(f"{spec!r}: expected <chokepoint>:<direction>")
    for i, dp in enumerate(s.background.dark_passages):
        dnode = root.child("background").child("dark_passages").child(i)
        if dp.lane not in lanes:
            raise dnode.child("lane").error(f"unknown lane {dp.lane!r}")
        if dp.chokepoint_id not in s.chokepoints:
            raise dnode.child("chokepoint").error(f"unknown chokepoint {dp.chokepoint_id!r}")
    mmsis = [v.identity.mmsi for v in s.vessels]
    if len(set(mmsis)) != len(mmsis):
        raise root.child("vessels").error("two vessels share an MMSI")
