"""Deterministic scenario simulator: NOAA-layout AIS files, a reports CSV and the planted truth.

`simulate(config)` is the pure core (frames in memory); `write_scenario(out_dir, config)` writes
them. Everything follows from `config.seed` and the scenario file: the same inputs give the
same bytes. The demo scenario (seeds/scenarios/demo.toml) replays what public reporting says of
SPARTA and SPARTA II leaving Tartus in January 2025 with their real identifiers and dates,
among decoys that share their name and a few hundred background ships in the same straits.

Layout written under out_dir:
    ais/AIS_YYYY_MM_DD.csv      one NOAA MarineCadastre CSV per UTC day
    reports/simulated_reports.csv   claims in the `import-reports` format
    truth/events.csv            the planted passages, port calls and AIS gaps
    truth/vessels.csv           every simulated vessel: identity, role, lane
    manifest.json               fingerprint of the inputs and sha256 of every file
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError
from pipeline.scenario.config import REPORT_COLUMNS, Scenario, load_scenario
from pipeline.scenario.fleet import FleetSettings, plan_fleet
from pipeline.scenario.geography import Geography
from pipeline.scenario.motion import Leg, Sampling, Stay, vessel_fixes
from pipeline.scenario.noaa import write_daily_files
from pipeline.scenario.plan import VesselPlan, plan_story
from pipeline.scenario.truth import TRUTH_COLUMNS, check_lane_passages, planted_events

# Bump when a change to the generator changes its output for the same inputs.
SIMULATOR_VERSION = "1"
DEMO_SCENARIO_FILE = SEEDS_DIR / "scenarios" / "demo.toml"
VESSEL_COLUMNS = (
    "mmsi",
    "name",
    "imo",
    "callsign",
    "ship_type",
    "length_m",
    "width_m",
    "draught_m",
    "transceiver_class",
    "role",
    "key",
    "lane",
)


@dataclass(frozen=True)
class DemoScenario:
    """How to generate a scenario: which story, which seed, how many ships, how they report."""

    seed: int = 20250209
    scenario_file: Path = DEMO_SCENARIO_FILE
    fleet: FleetSettings = field(default_factory=FleetSettings)
    sampling: Sampling = field(default_factory=Sampling)
    route_step_nm: float = 0.5


@dataclass(frozen=True, eq=False)
class SimulatedScenario:
    """A generated scenario in memory."""

    scenario: Scenario
    fixes: pd.DataFrame  # mmsi, ts (epoch s), lat, lon, sog, cog, heading, status
    vessels: pd.DataFrame  # VESSEL_COLUMNS
    truth: pd.DataFrame  # TRUTH_COLUMNS
    reports: pd.DataFrame  # REPORT_COLUMNS
    plans: tuple[VesselPlan, ...]


@dataclass(frozen=True, eq=False)
class ScenarioFiles:
    """What `write_scenario` wrote (or found already written for the same inputs)."""

    out_dir: Path
    ais_files: tuple[Path, ...]
    reports_csv: Path
    truth: pd.DataFrame
    vessels: pd.DataFrame
    rows: int
    reused: bool = False


def simulate(config: DemoScenario = DemoScenario()) -> SimulatedScenario:
    """Generate the scenario in memory, deterministically from config."""
    scenario = load_scenario(config.scenario_file)
    geo = Geography(scenario, step_nm=config.route_step_nm)
    plans: list[VesselPlan] = []
    for story in scenario.vessels:
        rng = np.random.default_rng([config.seed, 3, zlib.crc32(story.key.encode())])
        plans.append(plan_story(story, scenario, geo, rng))
    taken = {p.identity.mmsi for p in plans}
    plans.extend(plan_fleet(scenario, geo, config.fleet, config.seed, taken))

    frames = []
    for i, plan in enumerate(plans):  # one vectorised draw per ship
        rng = np.random.default_rng([config.seed, 4, i])
        frames.append(
            vessel_fixes(plan.identity.mmsi, list(plan.phases), rng, config.sampling, plan.dark)
        )
    fixes = _keep_fixes_at_sea(pd.concat(frames, ignore_index=True), geo)

    vessels = _vessel_types(
        pd.DataFrame(
            [
                dataclasses.asdict(p.identity) | {"role": p.role, "key": p.key, "lane": p.lane}
                for p in plans
            ],
            columns=list(VESSEL_COLUMNS),
        )
    )
    truth = planted_events(plans, scenario, geo, fixes)
    check_lane_passages(truth, plans, scenario)
    reports = scenario_reports(scenario, truth, plans, geo)
    return SimulatedScenario(scenario, fixes, vessels, truth, reports, tuple(plans))


def _vessel_types(frame: pd.DataFrame) -> pd.DataFrame:
    """The vessels frame with the same dtypes whether built or read back from its CSV."""
    text = ("name", "imo", "callsign", "transceiver_class", "role", "key", "lane")
    numbers = ("length_m", "width_m", "draught_m")
    return frame.astype(
        {"mmsi": "int64", "ship_type": "int64"}
        | dict.fromkeys(text, "str")
        | dict.fromkeys(numbers, "float64")
    )


def _keep_fixes_at_sea(fixes: pd.DataFrame, geo: Geography) -> pd.DataFrame:
    """GPS noise must not put a fix ashore: such a fix is reported where the ship really was.

    The true positions lie on routes checked at sea; one on land is a generator bug.
    """
    ashore = geo.forbidden_land(fixes["lon"].to_numpy(), fixes["lat"].to_numpy())
    fixes.loc[ashore, "lon"] = fixes.loc[ashore, "true_lon"]
    fixes.loc[ashore, "lat"] = fixes.loc[ashore, "true_lat"]
    still = geo.forbidden_land(fixes["lon"].to_numpy(), fixes["lat"].to_numpy())
    if still.any():
        row = fixes[still].iloc[0]
        raise StraitwatchError(
            f"{int(still.sum())} simulated fixes are on land, first: MMSI {int(row['mmsi'])} "
            f"at lon {row['lon']:.5f}, lat {row['lat']:.5f}"
        )
    return fixes.drop(columns=["true_lat", "true_lon"])


def scenario_reports(
    scenario: Scenario, truth: pd.DataFrame, plans: list[VesselPlan], geo: Geography
) -> pd.DataFrame:
    """The reports CSV: the scenario file's reports, then claims about background ships.

    Generated claims: each dark (inferred) passage reported the day after, as a coastguard
    would (the claim is true); and for each port-call lane, its first ship said to have gone
    on through the strait on the day it arrived in port (it did not: it came back out).
    """
    rows = [dict(r) for r in scenario.reports]
    dark = truth[(truth["kind"] == "passage") & truth["inferred"]]
    by_mmsi = {p.identity.mmsi: p for p in plans}
    for k, ev in enumerate(dark.itertuples(index=False), start=1):
        plan = by_mmsi[ev.mmsi]
        cp_name = scenario.chokepoints[ev.place_id].name
        day = ev.started_at.date()
        rows.append(
            _report(
                report_id=f"SIM-DARK-{k:02d}",
                source="Simulated coastguard bulletin",
                published_at=(ev.started_at + pd.Timedelta(days=1)).date().isoformat(),
                vessel_name=plan.identity.name,
                imo=plan.identity.imo or "",
                via_chokepoint=ev.place_id,
                via_date=day.isoformat(),
                via_direction=ev.direction,
                claim_text=f"{plan.identity.name} (IMO {plan.identity.imo}) passed the "
                f"{cp_name} {ev.direction} on {day.isoformat()} with her AIS off.",
            )
        )
    seen_lanes: set[str] = set()
    lanes = {lane.name: lane for lane in scenario.background.lanes}
    k = 0
    for plan in plans:
        lane = lanes.get(plan.lane or "")
        if lane is None or lane.call_port is None or lane.name in seen_lanes:
            continue
        claim = _onward_claim(plan, scenario, geo)
        if claim is None:
            continue
        seen_lanes.add(lane.name)
        k += 1
        cid, direction, arrived = claim
        port = scenario.ports[lane.call_port]
        rows.append(
            _report(
                report_id=f"SIM-CALL-{k:02d}",
                source="Simulated shipping column",
                published_at=(arrived + pd.Timedelta(days=2)).date().isoformat(),
                vessel_name=plan.identity.name,
                imo=plan.identity.imo or "",
                via_chokepoint=cid,
                via_date=arrived.date().isoformat(),
                via_direction=direction,
                claim_text=f"{plan.identity.name} went on {direction} through the "
                f"{scenario.chokepoints[cid].name} on {arrived.date().isoformat()} "
                f"after a stop at {port.name}.",
            )
        )
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def _report(**fields: str) -> dict[str, str]:
    return {c: fields.get(c, "") for c in REPORT_COLUMNS}


def _onward_claim(
    plan: VesselPlan, scenario: Scenario, geo: Geography
) -> tuple[str, str, pd.Timestamp] | None:
    """For a ship that called at a port inside a strait: the strait, the way it was heading
    when it came in (as if it had gone on through), and when it arrived."""
    inbound, stay = plan.phases[0], plan.phases[1]
    if not isinstance(inbound, Leg) or not isinstance(stay, Stay):
        return None
    for cp in scenario.chokepoints.values():
        for gate in cp.gates:
            _, signs = geo.crossings(inbound.route, gate)
            if len(signs):
                way = cp.first_direction if signs[0] > 0 else cp.second_direction
                return cp.chokepoint_id, way, pd.Timestamp(stay.start_s, unit="s", tz="UTC")
    return None


# --------------------------------------------------------------------------- files


def _fingerprint(config: DemoScenario) -> str:
    digest = hashlib.sha256()
    digest.update(f"straitwatch-simulator {SIMULATOR_VERSION}\n".encode())
    settings = dataclasses.asdict(config)
    settings["scenario_file"] = config.scenario_file.name
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(config.scenario_file.read_bytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_scenario(
    out_dir: Path, config: DemoScenario = DemoScenario(), *, reuse: bool = True
) -> ScenarioFiles:
    """Generate the scenario and write its files under out_dir (layout in the module doc).

    With `reuse`, files already written for the same inputs (same fingerprint in
    manifest.json, every file present with its recorded sha256) are kept as they are.
    Stale AIS files from another configuration are removed, never ingested by mistake.
    """
    out_dir = Path(out_dir)
    fingerprint = _fingerprint(config)
    manifest_path = out_dir / "manifest.json"
    if reuse and manifest_path.exists():
        found = _reuse(out_dir, manifest_path, fingerprint)
        if found is not None:
            return found

    sim = simulate(config)
    ais_dir = out_dir / "ais"
    if ais_dir.exists():
        for old in ais_dir.glob("AIS_*.csv"):
            old.unlink()
    ais_files = write_daily_files(sim.fixes, sim.vessels, ais_dir)
    reports_csv = out_dir / "reports" / "simulated_reports.csv"
    reports_csv.parent.mkdir(parents=True, exist_ok=True)
    sim.reports.to_csv(reports_csv, index=False, lineterminator="\n")
    truth_dir = out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    _truth_for_csv(sim.truth).to_csv(truth_dir / "events.csv", index=False, lineterminator="\n")
    sim.vessels.to_csv(truth_dir / "vessels.csv", index=False, lineterminator="\n")
    files = [*ais_files, reports_csv, truth_dir / "events.csv", truth_dir / "vessels.csv"]
    manifest = {
        "fingerprint": fingerprint,
        "seed": config.seed,
        "rows": len(sim.fixes),
        "files": {str(p.relative_to(out_dir)): _sha256(p) for p in files},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return ScenarioFiles(
        out_dir=out_dir,
        ais_files=tuple(ais_files),
        reports_csv=reports_csv,
        truth=sim.truth,
        vessels=sim.vessels,
        rows=len(sim.fixes),
    )


def _truth_for_csv(truth: pd.DataFrame) -> pd.DataFrame:
    out = truth.copy()
    for col in ("started_at", "ended_at", "window_start", "window_end"):
        out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def read_truth(path: Path) -> pd.DataFrame:
    """Read truth/events.csv back into the frame `simulate` returns."""
    frame = pd.read_csv(path, dtype={"place_id": str, "direction": str})
    for col in ("started_at", "ended_at", "window_start", "window_end"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["inferred"] = frame["inferred"].astype(bool)
    frame["mmsi"] = frame["mmsi"].astype("int64")
    return frame[list(TRUTH_COLUMNS)]


def _reuse(out_dir: Path, manifest_path: Path, fingerprint: str) -> ScenarioFiles | None:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("fingerprint") != fingerprint:
        return None
    files = manifest.get("files", {})
    for rel, digest in files.items():
        path = out_dir / rel
        if not path.is_file() or _sha256(path) != digest:
            return None
    ais = tuple(sorted(out_dir / rel for rel in files if rel.startswith("ais/")))
    return ScenarioFiles(
        out_dir=out_dir,
        ais_files=ais,
        reports_csv=out_dir / "reports" / "simulated_reports.csv",
        truth=read_truth(out_dir / "truth" / "events.csv"),
        vessels=_vessel_types(
            pd.read_csv(out_dir / "truth" / "vessels.csv", dtype={"imo": str, "callsign": str})
        ),
        rows=int(manifest["rows"]),
        reused=True,
    )
