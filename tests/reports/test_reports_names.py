"""Names, AIS destination text and identity rules, on real strings."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.reports.destinations import normalise_destinations, parse_destination
from pipeline.reports.identity import (
    IDENTITY_COLUMNS,
    ClaimedVessel,
    resolve_candidates,
    type_fit,
)
from pipeline.reports.names import name_parts, normalise_name

from .conftest import utc

FIXTURE = "tests/fixtures/digitraffic_baltic_snapshots_2025-12.csv"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("SPARTA II", "Sparta 2", True),
        ("Sparta-II", "SPARTA2", True),
        ("СПАРТА II", "SPARTA II", True),  # Cyrillic transliterated
        ("Spárta  ii.", "SPARTA II", True),
        ("VOLGONEFT-102", "Volgoneft No. 102", True),
        ("SPARTA", "SPARTA II", False),
        ("SPARTA II", "SPARTA IV", False),
        ("SPARTA IV", "SPARTA 4", True),
    ],
)
def test_normalised_names(a: str, b: str, same: bool) -> None:
    assert (normalise_name(a) == normalise_name(b)) is same


def test_numerals_are_split_from_words() -> None:
    assert name_parts(normalise_name("Sparta IV")) == ("SPARTA", ("4",))
    assert name_parts(normalise_name("General Skobelev")) == ("GENERAL SKOBELEV", ())


# A documented sample of real AIS destination texts (Digitraffic, December 2025) and the ports
# they name with the ports table of the tests (34 World Port Index ports). LOCODEs outside that
# table are returned too (port_known false); texts that name no port give None.
DESTINATIONS = {
    "RU LED": "RULED",
    "RULED": "RULED",
    "RU  LED": "RULED",
    "RU_LED OPL": "RULED",
    "SPB": "RULED",
    "PORT SPB": "RULED",
    "SPB RU": "RULED",
    "RU SPB": "RULED",
    "ST.PETERSBURG": "RULED",
    "ST. PETERSBURG": "RULED",
    "ST-PETERSBURG": "RULED",
    "SAINT-PETERSBURG": "RULED",
    "SANKT-PETERBURG": "RULED",
    "S.PETERBURG": "RULED",
    "ST.PETESBURG": "RULED",  # misspelt
    "SANKT-PETERBYRG": "RULED",
    "RU KGD": "RUKGD",
    "RUKGD": "RUKGD",
    "KGD": "RUKGD",
    "KGD RU": "RUKGD",
    "KALININGRAD": "RUKGD",
    "KALINIGRAD\\ RUSSIA": "RUKGD",
    "BALTIYSK": "RUBLT",
    "BALTISK": "RUBLT",
    "RU BLT": "RUBLT",
    "RU LED - RU BLT": "RUBLT",
    "RUULU>EGPSD": "EGPSD",
    "RU ULU > EG PSD": "EGPSD",
    "UST-LUGA  RUSSIA": "RUULU",
    "USTLUGA": "RUULU",
    "PRIMORSK,RUSSIA": "RUPRI",
    "KRONSHTADT": "RUKDT",
    "BR SPB": "BRSPB",  # Sepetiba, Brazil: a LOCODE, not St Petersburg
    "NLRTM": "NLRTM",
    "FROM RULED TO EGDAM": "EGDAM",
    "SEGOT@@@@@RULED": "RULED",
    "RU ULU > PANAMA": None,  # the last leg is no port we know
    "RULED>LIBYA ORDERS": None,
    "FOR ORDERS": None,
    "MALTA": None,  # a country, not a port
    "UNKNOWN": None,
    "0": None,
}


def test_real_destination_texts(gazetteer) -> None:
    real = set(pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)["destination"])
    assert set(DESTINATIONS) <= real, set(DESTINATIONS) - real
    out = normalise_destinations(pd.Series(list(DESTINATIONS)), gazetteer)
    got = {
        d: None if pd.isna(p) else p
        for d, p in zip(out["destination"], out["port_id"], strict=True)
    }
    assert got == DESTINATIONS
    assert parse_destination("RU LED - RU BLT", gazetteer).legs == ("RULED", "RUBLT")
    assert parse_destination("FOR ORDERS", gazetteer).note == "for_orders"
    assert parse_destination("RULED<=>RUKGD", gazetteer).note == "shuttle"


def test_the_whole_snapshot_file(gazetteer) -> None:
    frame = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    out = normalise_destinations(frame["destination"], gazetteer)
    assert len(out) == len(frame) == 27_232
    # every text gets a port or the reason why not
    found = out["port_id"].notna()
    assert out.loc[~found, "note"].isin(["empty", "unrecognised", "for_orders"]).all()
    assert out.loc[found, "note"].fillna("-").isin(["-", "shuttle", "for_orders"]).all()
    st_petersburg = out[out["port_id"] == "RULED"]
    assert len(st_petersburg) > 900


def test_type_fit() -> None:
    assert type_fit("cargo", 70) == "fits"
    assert type_fit("cargo", 30) == "conflicts"
    assert type_fit(None, 30) == "conflicts"  # no kind stated: a merchant ship is expected
    assert type_fit(None, 80) == "fits"
    assert type_fit("cargo", 0) == "unknown"


def test_names_at_the_claimed_time() -> None:
    rows = pd.DataFrame(
        [
            (
                1,
                273000001,
                None,
                None,
                "SPARTA",
                None,
                70,
                "RU",
                utc("2024-01-01T00:00"),
                utc("2025-03-01T00:00"),
            ),
            (
                2,
                273000001,
                None,
                None,
                "SOMETHING ELSE",
                None,
                70,
                "RU",
                utc("2025-03-01T00:00"),
                None,
            ),
            (3, 273000002, None, None, "SPARTA", None, 70, "RU", utc("2025-06-01T00:00"), None),
        ],
        columns=IDENTITY_COLUMNS,
    )
    claim = ClaimedVessel(
        "Sparta", None, None, None, None, utc("2025-02-01T00:00"), utc("2025-02-12T00:00")
    )
    # 273000002's AIS history starts after the claim: its first known name stands for then
    found, near = resolve_candidates(claim, rows)
    assert found["mmsi"].tolist() == [273000001, 273000002]
    # once its history shows another name at the claimed time, it is set aside
    earlier = rows.iloc[[2]].assign(
        identity_id=4,
        name="OTHER",
        valid_from=utc("2024-01-01T00:00"),
        valid_to=utc("2025-06-01T00:00"),
    )
    found, near = resolve_candidates(claim, pd.concat([rows, earlier]))
    assert found["mmsi"].tolist() == [273000001]
    assert [n["mmsi"] for n in near] == [273000002]
    later = ClaimedVessel(
        "Sparta", None, None, None, None, utc("2025-07-01T00:00"), utc("2025-07-02T00:00")
    )
    assert resolve_candidates(later, rows)[0]["mmsi"].tolist() == [273000002]
