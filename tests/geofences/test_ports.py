"""Ports from the WPI seed: keys, counts that add up, radii, the spellings news uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.geo.distance import haversine_nm
from pipeline.geo.ports import PortRadii, PortSeedError, load_ports, read_ports


def test_port_ids_are_unique_unlocodes_and_every_wpi_row_is_accounted_for(port_seed):
    ports = port_seed.ports
    assert ports["port_id"].str.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}").all()
    assert ports["port_id"].is_unique
    assert (ports["country"] == ports["port_id"].str[:2]).all()
    assert port_seed.rows_read == 3803
    assert len(ports) + len(port_seed.skipped) == port_seed.rows_read
    assert port_seed.skipped_counts() == {
        "no_locode": 459,
        "malformed_locode": 7,
        "locode_country_mismatch": 5,
        "duplicate_locode": 25,
        "bad_position": 0,
    }
    assert len(ports) == 3307
    assert ports[["lat", "lon", "radius_nm"]].notna().all().all()


def test_ports_of_the_seed_article_exist_with_sensible_radii(ports):
    # (port, position within this many nm of the real harbour, radius range)
    real = {
        "SYTTS": (34.895, 35.870),  # Tartus port
        "RULED": (59.900, 30.230),  # Big Port St Petersburg, Gutuevsky island
        "RUBLT": (54.640, 19.900),  # Baltiysk
        "RUKGD": (54.700, 20.450),  # Kaliningrad sea trade port
        "SYLTK": (35.530, 35.770),  # Latakia port
    }
    for port_id, (lat, lon) in real.items():
        row = ports.loc[port_id]
        assert 1.5 <= row["radius_nm"] <= 5.0, port_id
        off_nm = float(haversine_nm(row["lat"], row["lon"], lat, lon))
        assert off_nm < row["radius_nm"], (port_id, off_nm)
    assert ports.loc["RULED", "position_source"] == "override"
    # Baltiysk and Kaliningrad are distinct ports whose circles do not overlap
    gap = float(
        haversine_nm(*ports.loc["RUBLT", ["lat", "lon"]], *ports.loc["RUKGD", ["lat", "lon"]])
    )
    assert gap > ports.loc["RUBLT", "radius_nm"] + ports.loc["RUKGD", "radius_nm"]


@pytest.mark.parametrize(
    ("port_id", "spellings"),
    [
        ("RULED", ["St. Petersburg", "Saint Petersburg", "Sankt-Peterburg", "St Petersburg"]),
        ("SYTTS", ["Tartus", "Tartous"]),
        ("RUKGD", ["Kaliningrad", "Königsberg"]),
        ("RUBLT", ["Baltiysk", "Baltisk", "Pillau"]),
        ("SYLTK", ["Latakia", "Lattakia", "Al Ladhiqiyah"]),
        ("MAPTM", ["Tanger Med", "Tanger-Med", "Tangier-Mediterranean"]),
    ],
)
def test_names_cover_news_spellings(ports, port_id, spellings):
    names = [ports.loc[port_id, "name"], *ports.loc[port_id, "alternate_names"]]
    assert set(spellings) <= set(names)
    # each name once, the main name not repeated among the alternates
    assert len({n.casefold() for n in names}) == len(names)


def test_latakia_takes_its_current_code_and_keeps_the_wpi_one(ports, port_seed):
    assert ports.loc["SYLTK", "locode_aliases"] == ["SYALD"]
    assert "SYALD" not in ports.index
    assert ports.loc["SYLTK", "wpi_number"] == "45010"


def test_a_code_copied_from_another_country_is_skipped(ports, port_seed):
    # WPI lists St. Petersburg, Florida under RU LED: the Russian port keeps the code
    assert ports.loc["RULED", "country_name"] == "Russia"
    skipped = port_seed.skipped.set_index("wpi_number")
    assert skipped.loc["8680.0", "reason"] == "locode_country_mismatch"
    assert skipped.loc["45027.0", "reason"] == "malformed_locode"  # Selaata, "LB"


def test_duplicate_codes_keep_the_larger_harbour_and_its_neighbours_names(ports, port_seed):
    assert ports.loc["DEBRB", "name"] == "Brunsbuttel Canal Terminals"
    assert "Brunsbuttel Elbahafen" in ports.loc["DEBRB", "alternate_names"]
    assert ports.loc["EGAIS", "name"] == "Ain Sukhna Terminal"
    # a duplicate far away is not merged: Chornomorske (Crimea) is not Illichivsk
    assert "Chornomors Ke" not in ports.loc["UAILK", "alternate_names"]
    dup = port_seed.skipped.loc[port_seed.skipped["reason"] == "duplicate_locode"]
    assert (
        "kept for WPI 43645.0 (Illichivsk)" in dup.set_index("wpi_number").loc["43745.0", "detail"]
    )


def test_radius_follows_harbour_size_unless_overridden(ports):
    defaults = PortRadii()
    by_size = ports.loc[ports["radius_source"] == "harbor_size"]
    expected = defaults.for_sizes(by_size["harbor_size"])
    assert (by_size["radius_nm"] == expected).all()
    assert ports.loc["KRPUS", "radius_nm"] == defaults.large_nm
    overridden = ports.loc[ports["radius_source"] == "override"]
    assert set(overridden.index) == {"SYTTS", "RULED", "RUBLT", "RUKGD", "ESALG", "ESCEU", "MAPTM"}
    assert ports.loc["ESCEU", "radius_nm"] == 1.5


def test_gibraltar_strait_ports_do_not_overlap(ports):
    ids = ["ESALG", "MAPTM", "ESCEU", "MATNG"]
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            gap = float(haversine_nm(*ports.loc[a, ["lat", "lon"]], *ports.loc[b, ["lat", "lon"]]))
            assert gap > ports.loc[a, "radius_nm"] + ports.loc[b, "radius_nm"], (a, b)


def test_load_ports_returns_the_ports_frame(ports):
    frame = load_ports()
    assert frame["port_id"].tolist() == sorted(ports.index)


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "port_overrides.csv",
            "ESCEU,1.5,",
            "ESCEX,1.5,",
            "seeds/ports/port_overrides.csv: line 7: field 'port_id' 'ESCEX': no such port",
        ),
        (
            "port_overrides.csv",
            "ESCEU,1.5,",
            "ESCEU,-1,",
            "seeds/ports/port_overrides.csv: line 7: field 'radius_nm' '-1'",
        ),
        (
            "port_overrides.csv",
            "RULED,5.0,59.9,30.22",
            "RULED,5.0,59.9,",
            "seeds/ports/port_overrides.csv: line 3: field 'lon' ''",
        ),
        (
            "port_aliases.csv",
            "RUBLT,Pillau",
            "RUBLX,Pillau",
            "seeds/ports/port_aliases.csv: line 17: field 'port_id' 'RUBLX': no such port",
        ),
        (
            "locode_corrections.csv",
            "45010.0,SY ALD",
            "45010.0,SY LTK",
            "field 'wpi_unlocode' 'SY LTK': does not match the WPI seed's code",
        ),
        (
            "wpi_ports.csv",
            "wpi_number,main_port_name",
            "wpi,main_port_name",
            "seeds/ports/wpi_ports.csv: line 1: expected the header wpi_number,main_port_name",
        ),
    ],
)
def test_bad_port_seeds_are_named(seeds_copy, file, old, new, message):
    rewrite(seeds_copy / "ports" / file, old, new)
    with pytest.raises(PortSeedError, match=re.escape(message)):
        read_ports(seeds_copy)
