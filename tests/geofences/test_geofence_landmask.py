"""Every gate line against the global-land-mask: ends on land, interior at sea except the
islands the seed declares, no way round either end; fairways and side points at sea."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from global_land_mask import globe

from pipeline.geo import gate_audit
from pipeline.geo.distance import haversine_nm
from pipeline.geo.geofences import load_gates, path_crossings

SEED_CHOKEPOINTS, SEED_GATES = load_gates()
GATE_IDS = [f"{g.chokepoint_id}/{g.gate}" for g in SEED_GATES.itertuples()]


@pytest.fixture(scope="module")
def audit() -> pd.DataFrame:
    frame = gate_audit.audit(SEED_CHOKEPOINTS, SEED_GATES)
    return frame.set_index(frame["chokepoint_id"] + "/" + frame["gate"])


@pytest.mark.parametrize("gate_id", GATE_IDS)
def test_gate_passes_the_land_mask_audit(audit, gate_id):
    assert audit.loc[gate_id, "problems"] == []


def test_the_mask_checks_cover_almost_every_gate(audit):
    resolved = audit["left_cells"].notna()
    # canal gates are the only ones the mask cannot check (their passage is all "land")
    assert set(audit.index[~resolved]) == {
        "kiel_canal/west", "kiel_canal/east", "panama/south", "panama/north",
        "suez/south", "suez/north",
    }  # fmt: skip
    assert (audit.loc[resolved, "left_cells"] > 0).all()
    assert (audit.loc[resolved, "right_cells"] > 0).all()
    assert (audit.loc[resolved, "leaked_cells"] == 0).all()


def test_fairways_are_at_sea_where_the_mask_resolves_the_passage(audit):
    below = set(SEED_CHOKEPOINTS.loc[SEED_CHOKEPOINTS["below_mask_resolution"], "chokepoint_id"])
    assert below == {"kiel_canal", "panama", "suez", "little_belt"}
    land_km = audit.groupby("chokepoint_id")["fairway_land_km"].first()
    assert (land_km.drop(sorted(below)) == 0).all()
    # The Little Belt's only land is the Middelfart narrows (0.7 km wide, closed in the mask).
    assert 0 < land_km["little_belt"] < 10


def test_side_points_are_at_sea():
    for point in ("side_a_point", "side_b_point"):
        lonlat = np.array(SEED_CHOKEPOINTS[point].tolist())
        at_sea = ~globe.is_land(lonlat[:, 1], lonlat[:, 0])
        assert at_sea.all(), SEED_CHOKEPOINTS.loc[~at_sea, "chokepoint_id"].tolist()


def test_narrow_gates_span_the_channel_well_beyond_its_course():
    # Canals are narrower than the mask: each gate must reach 3 km past the fairway (the canal
    # course) on both sides, so an error of a kilometre in the course cannot open a gap.
    narrow = SEED_GATES.loc[SEED_GATES["below_mask_resolution"]]
    assert len(narrow) == 6
    fairways = SEED_CHOKEPOINTS.set_index("chokepoint_id")["fairway"]
    for gate in narrow.itertuples():
        coords = np.asarray(gate.geometry.coords)
        hit = path_crossings(np.asarray(fairways[gate.chokepoint_id].coords), coords)
        assert len(hit) == 1
        crossing = gate.geometry.intersection(fairways[gate.chokepoint_id])
        for end in coords[[0, -1]]:
            km = haversine_nm(crossing.y, crossing.x, end[1], end[0]) * 1.852
            assert km >= 3.0, (gate.chokepoint_id, gate.gate, float(km))


# ---------------------------------------------------------------- the audit itself can fail


def test_audit_flags_a_gate_that_stops_at_sea():
    # Cape Spartel to mid-strait
    facts = gate_audit.audit_gate([(-5.93, 35.77), (-5.97, 36.0)], islands=0)
    assert facts["problems"][0] == "last vertex is at sea"


def test_audit_flags_a_way_round_the_end():
    # Landskrona to the island of Ven: both ends on land, open water between, but the
    # Øresund goes on west of Ven
    facts = gate_audit.audit_gate([(12.90, 55.95), (12.69, 55.905)], islands=0)
    assert facts["problems"] == [f"sea goes round the line ({facts['leaked_cells']} cells reached)"]
    assert facts["leaked_cells"] > 5


def test_audit_flags_an_undeclared_island():
    korea = SEED_GATES.set_index(["chokepoint_id", "gate"]).loc[("korea", "southwest")]
    facts = gate_audit.audit_gate(np.asarray(korea["geometry"].coords), islands=0)
    assert facts["islands_found"] == 1
    assert facts["problems"] == [
        "crosses land 1 time(s) between its ends; the seed declares 0 island(s)"
    ]


def test_land_runs_measure_a_known_crossing():
    # Gibraltar's outer gate: about 1.7 km of Morocco, 45 km of sea, 1.8 km of Spain
    runs = gate_audit.land_runs([(-5.93, 35.77), (-6.02, 36.2)])
    assert runs["is_land"].tolist() == [True, False, True]
    assert runs["length_km"].sum() == pytest.approx(48.5, abs=0.5)
    assert runs["length_km"].iloc[1] == pytest.approx(45.0, abs=1.0)
