import itertools

import numpy as np
import pytest

from plantwatch.data.synthetic.conditions import Weather
from plantwatch.data.synthetic.landscape import make_landscape
from plantwatch.data.synthetic.scene import Acquisition, render_scene
from plantwatch.data.synthetic.spectra import material

SIZE = 96


def landscape(fuel="hard_coal", capacity=1500.0, seed=3):
    return make_landscape(np.random.default_rng(seed), SIZE, fuel, capacity)


def acquisition(generation=1000.0, humidity=80.0, day=60, cloud=0.0) -> Acquisition:
    return Acquisition(
        day_of_year=day,
        latitude=50.0,
        weather=Weather(5.0, humidity, 3.0, 2.0),
        generation_mw=generation,
        efficiency=0.38,
        cloud_cover=cloud,
        aerosol_optical_depth=0.05,
    )


def render(acq, land=None, product="S2L2A", seed=0):
    return render_scene(land or landscape(), acq, product, np.random.default_rng(seed))


def test_more_generation_gives_more_plume_pixels():
    counts = [render(acquisition(mw)).mask.sum() for mw in (250, 500, 1000, 1500)]
    assert all(a < b for a, b in itertools.pairwise(counts)), counts


def test_an_off_plant_has_an_empty_mask():
    scene = render(acquisition(0.0))
    assert scene.mask.sum() == 0 and scene.optical_depth.max() == 0


def test_higher_humidity_gives_a_longer_visible_plume():
    land = landscape()
    row, col = land.sources[0].row, land.sources[0].col
    extent = []
    for humidity in (45, 75, 98):
        rows, cols = np.nonzero(render(acquisition(1000, humidity), land).mask)
        extent.append(np.hypot(rows - row, cols - col).max())
    assert extent[0] < extent[1] < extent[2], extent


def test_the_plume_is_bright_in_the_visible_and_darker_in_the_swir():
    land = landscape()
    on, off = render(acquisition(1200), land), render(acquisition(0), land)
    plume = on.mask.astype(bool)
    gain = (on.reflectance - off.reflectance)[:, plume].mean(axis=1)  # per band, L2A order
    b02, b12 = gain[1], gain[11]
    assert b02 > 0.1 and b02 > 2 * b12


@pytest.mark.parametrize(("product", "bands"), [("S2L2A", 12), ("S2L1C", 13)])
def test_products_have_their_band_count(product, bands):
    scene = render(acquisition(), product=product)
    assert scene.reflectance.shape == (bands, SIZE, SIZE)
    assert scene.reflectance.dtype == np.float32 and scene.mask.dtype == np.uint8


def test_top_of_atmosphere_is_brighter_in_the_blue_than_surface_reflectance():
    land = landscape()
    l2a, l1c = render(acquisition(0), land), render(acquisition(0), land, "S2L1C")
    assert l1c.reflectance[0].mean() > l2a.reflectance[0].mean() + 0.03  # B01 path radiance
    assert l1c.reflectance[10].mean() < 0.02  # B10 sees little of the ground


def test_vegetation_greens_up_in_summer():
    land = landscape()
    forest = land.materials == material("forest_leaf")
    crops = land.materials == material("crop_green")
    vegetated = forest | crops
    ndvi = []
    for day in (15, 196):
        r = render(acquisition(0, day=day), land).reflectance
        ndvi.append(((r[7] - r[3]) / (r[7] + r[3]))[vegetated].mean())
    assert ndvi[1] > ndvi[0] + 0.2


@pytest.mark.parametrize("fuel", ["lignite", "hard_coal", "gas", "peat_oil"])
def test_each_fuel_leaves_its_infrastructure(fuel):
    land = landscape(fuel, 1200)
    present = {
        name for name in ("coal", "mine", "tank") if (land.materials == material(name)).any()
    }
    expected = {
        "lignite": {"coal", "mine"},
        "hard_coal": {"coal"},
        "gas": set(),
        "peat_oil": {"tank"},
    }
    assert present == expected[fuel]
    towers = [s for s in land.structures if s.radius_px >= 3]
    assert (len(towers) == 0) == (fuel == "gas")


def test_footprint_grows_with_capacity():
    small = (landscape(capacity=300).materials == material("built")).sum()
    large = (landscape(capacity=3000).materials == material("built")).sum()
    assert large > small
