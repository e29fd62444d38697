"""The ground truth of a simulated scenario: the passages, port calls and AIS gaps it planted.

Passages are found on the noise-free planned routes against the scenario's own lines (not
the detector's gates): a passage crosses every gate of a chokepoint in order, entry to exit,
and its time is when it completes, crossing the last gate (as a canal transit is counted on
exit). Tests compare the detector's output to this frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.errors import StraitwatchError
from pipeline.scenario.config import ChokepointLines, Scenario
from pipeline.scenario.geography import Geography
from pipeline.scenario.motion import Leg, Stay
from pipeline.scenario.plan import VesselPlan

TRUTH_COLUMNS = (
    "kind",  # passage, port_call, ais_gap
    "mmsi",
    "name",
    "role",  # subject, decoy, background
    "place_id",  # chokepoint_id or port_id
    "direction",
    "started_at",  # passage: last gate crossed; port call: arrival; gap: last fix before
    "ended_at",  # passage: same; port call: departure (NaT if still there); gap: first fix after
    "window_start",  # passage: first gate crossed; port call: arrival; gap: AIS switched off
    "window_end",  # passage: last gate crossed; port call: departure; gap: AIS back on
    "inferred",  # passage made while the AIS was off
)


def _crossings(
    plan: VesselPlan, cp: ChokepointLines, geo: Geography
) -> list[tuple[float, int, float]]:
    """(time, gate index, sign) of every gate crossing of a vessel, in time order."""
    found: list[tuple[float, int, float]] = []
    xs = np.concatenate([np.asarray(g)[:, 0] for g in cp.gates])
    ys = np.concatenate([np.asarray(g)[:, 1] for g in cp.gates])
    for leg in plan.phases:
        if not isinstance(leg, Leg):
            continue
        r = leg.route
        if r.lon.max() < xs.min() or r.lon.min() > xs.max():
            continue
        if r.lat.max() < ys.min() or r.lat.min() > ys.max():
            continue
        for g, line in enumerate(cp.gates):
            at, sign = geo.crossings(r, line)
            times = leg.time_at_nm(at).tolist()
            found.extend(zip(times, [g] * len(at), sign.tolist(), strict=True))
    found.sort()
    return found


def _passages(
    crossings: list[tuple[float, int, float]], n_gates: int
) -> list[tuple[float, float, float]]:
    """(first gate time, last gate time, sign) for each complete passage.

    Gates must be crossed in order and the same way: 0..n-1 going from side_a (sign +1),
    n-1..0 coming back (sign -1). Turning back part way through cancels the attempt.
    """
    out = []
    progress, began, way = 0, 0.0, 0.0
    for t, g, sign in crossings:  # a handful of crossings per ship and chokepoint
        expected = progress if sign > 0 else n_gates - 1 - progress
        if progress and sign == way and g == expected:
            progress += 1
        elif (sign > 0 and g == 0) or (sign < 0 and g == n_gates - 1):
            progress, began, way = 1, t, sign
        else:
            progress = 0
            continue
        if progress == n_gates:
            out.append((began, t, way))
            progress = 0
    return out


def planted_events(
    plans: list[VesselPlan], scenario: Scenario, geo: Geography, fixes: pd.DataFrame
) -> pd.DataFrame:
    """The truth frame (columns TRUTH_COLUMNS), sorted by mmsi and time."""
    rows: list[dict] = []
    by_mmsi = {mmsi: g["ts"].to_numpy() for mmsi, g in fixes.groupby("mmsi", sort=False)}
    end = scenario.end.timestamp()
    for plan in plans:
        ident = plan.identity
        base = {"mmsi": ident.mmsi, "name": ident.name, "role": plan.role}
        for cp in scenario.chokepoints.values():
            for began, finished, way in _passages(_crossings(plan, cp, geo), len(cp.gates)):
                # dark when the AIS was off while it crossed the strait's gates
                dark = any(a <= began and finished < b for a, b in plan.dark)
                rows.append(
                    base
                    | {
                        "kind": "passage",
                        "place_id": cp.chokepoint_id,
                        "direction": cp.first_direction if way > 0 else cp.second_direction,
                        "started_at": finished,
                        "ended_at": finished,
                        "window_start": began,
                        "window_end": finished,
                        "inferred": dark,
                    }
                )
        for phase in plan.phases:
            if isinstance(phase, Stay) and phase.port_id is not None:
                left = phase.end_s if phase.end_s < end else np.nan
                rows.append(
                    base
                    | {
                        "kind": "port_call",
                        "place_id": phase.port_id,
                        "direction": None,
                        "started_at": phase.start_s,
                        "ended_at": left,
                        "window_start": phase.start_s,
                        "window_end": left,
                        "inferred": False,
                    }
                )
        ts = by_mmsi.get(ident.mmsi, np.empty(0))
        for off, on in plan.dark:
            before, after = ts[ts < off], ts[ts >= on]
            if len(before) and len(after):
                rows.append(
                    base
                    | {
                        "kind": "ais_gap",
                        "place_id": None,
                        "direction": None,
                        "started_at": float(before[-1]),
                        "ended_at": float(after[0]),
                        "window_start": off,
                        "window_end": on,
                        "inferred": False,
                    }
                )
    frame = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    for col in ("started_at", "ended_at", "window_start", "window_end"):
        frame[col] = pd.to_datetime(frame[col].astype("float64").round(), unit="s", utc=True)
    frame["mmsi"] = frame["mmsi"].astype("int64")
    frame["inferred"] = frame["inferred"].astype(bool)
    return frame.sort_values(["mmsi", "started_at", "kind"], ignore_index=True)


def check_lane_passages(truth: pd.DataFrame, plans: list[VesselPlan], scenario: Scenario) -> None:
    """Every background ship passes exactly the chokepoints its lane declares, the right way.

    This ties the scenario's lines to its lanes: a line drawn the wrong way round or
    short of the coast shows up here, at generation time, not as a puzzling test failure.
    """
    lanes = {lane.name: lane for lane in scenario.background.lanes}
    passages = truth[truth["kind"] == "passage"]
    got = passages.groupby("mmsi")[["place_id", "direction"]].apply(
        lambda g: sorted(zip(g["place_id"], g["direction"], strict=True))
    )
    for plan in plans:
        if plan.role != "background" or plan.lane is None:
            continue
        lane = lanes[plan.lane]
        forward = [tuple(p.split(":", 1)) for p in lane.passes]
        if lane.call_port is None:
            expected = forward if plan.forward else [_reverse(scenario, c, d) for c, d in forward]
        else:
            expected = forward + [_reverse(scenario, c, d) for c, d in forward]
        actual = got.get(plan.identity.mmsi, [])
        if sorted(expected) != list(actual):
            raise StraitwatchError(
                f"{scenario.path.name}: lane {lane.name!r}: a ship sailing it passes "
                f"{actual or 'nothing'}, the lane declares {sorted(expected) or 'nothing'}; "
                "check the chokepoint's lines"
            )


def _reverse(scenario: Scenario, cid: str, direction: str) -> tuple[str, str]:
    cp = scenario.chokepoints[cid]
    other = cp.second_direction if direction == cp.first_direction else cp.first_direction
    return cid, other
