import numpy as np
import pytest

from plantwatch import bands


def test_products_hold_the_esa_band_order_with_and_without_b10():
    l1c = bands.product("S2L1C")
    l2a = bands.product("S2L2A")
    assert l1c.bands[10] == "B10" and l1c.num_bands == 13
    assert l2a.num_bands == 12 and "B10" not in l2a.bands
    assert l2a.bands == tuple(b for b in l1c.bands if b != "B10")
    assert l1c.bands.index("B8A") == 8  # B8A sits between B08 and B09


@pytest.mark.parametrize("name", sorted(bands.PRODUCTS))
def test_every_product_has_one_positive_statistic_per_band(name):
    p = bands.product(name)
    assert len(p.mean) == len(p.std) == p.num_bands
    assert all(s > 0 for s in p.std)


def test_wavelengths_increase_along_the_sentinel2_band_order():
    assert np.all(np.diff(bands.wavelengths_nm(bands.L1C_BAND_NAMES)) > 0)
    assert list(bands.resolutions_m(["B02", "B05", "B01"])) == [10, 20, 60]


def test_band_indices_pick_and_reorder_by_name():
    picked = bands.band_indices(bands.L1C_BAND_NAMES, ["B04", "B03", "B02", "B12"])
    assert picked == [3, 2, 1, 12]
    assert bands.band_indices(bands.L2A_BAND_NAMES, ["B11", "B12"]) == [10, 11]  # no B10


def test_missing_bands_are_named_in_the_error():
    with pytest.raises(ValueError, match=r"\['B10'\] not available"):
        bands.band_indices(bands.L2A_BAND_NAMES, ["B02", "B10"])
    with pytest.raises(ValueError, match="unknown product"):
        bands.product("S3OLCI")


def test_dem_and_worldcover_are_registered():
    assert bands.BANDS["DEM"].resolution_m == 30 and bands.BANDS["LULC"].resolution_m == 10
    assert len(bands.WORLDCOVER_CLASSES) == 11 and bands.WORLDCOVER_CLASSES[50] == "built_up"
