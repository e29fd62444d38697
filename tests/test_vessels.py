"""IMO check digits, MMSI ranges and flags from the MID table."""

import pandas as pd

from pipeline import vessels
from pipeline.geo.distance import haversine_nm


def test_imo_check_digit_on_the_seed_ships() -> None:
    for imo in ("9268710", "9160994", "9743033", "9538892", "IMO 9268710", 9268710):
        assert vessels.imo_is_valid(imo), imo
    for imo in ("9268711", "926871", "0000000", "", None, "IMO"):
        assert not vessels.imo_is_valid(imo), imo


def test_imo_valid_mask_agrees_with_scalar() -> None:
    values = pd.Series(["9268710", "9268711", None, "IMO 9160994", "9160994.0", "abc", "0000000"])
    mask = vessels.imo_valid_mask(values)
    assert mask.tolist() == [True, False, False, True, True, False, False]


def test_mmsi_range_and_flags() -> None:
    mmsi = pd.Series([273351920, 2_190_047, 111_219_500, 992_191_234, 219_000_001, 775_999_999])
    assert vessels.is_ship_mmsi(mmsi).tolist() == [True, False, False, False, True, True]
    assert vessels.flag_of(273351920) == "RU"
    assert vessels.flag_of(219000001) == "DK"
    assert vessels.flag_of(2_190_047) is None
    flags = vessels.flags_of(mmsi)
    assert flags.iloc[0] == "RU" and flags.iloc[4] == "DK" and pd.isna(flags.iloc[1])


def test_haversine_one_degree_of_latitude_is_sixty_nm() -> None:
    d = haversine_nm([0.0, 59.0], [0.0, 30.0], [1.0, 59.0], [0.0, 31.0])
    assert abs(d[0] - 60.04) < 0.01
    assert abs(d[1] - 30.92) < 0.05  # one degree of longitude at 59 N ~ 60 * cos(59)
