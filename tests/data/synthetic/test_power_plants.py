import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from plantwatch import physics
from plantwatch.bands import L1C_BAND_NAMES, L2A_BAND_NAMES
from plantwatch.data.format.splits import read_split
from plantwatch.data.synthetic.landscape import make_landscape
from plantwatch.data.synthetic.power_plants import EFFICIENCY_SPREAD, synthesize_power_plants
from plantwatch.data.synthetic.spectra import SPECTRA, material
from plantwatch.errors import UserError
from tests.data.fakes import make_dataset


@pytest.fixture(scope="module")
def fully_masked(tmp_path_factory):
    return make_dataset(
        tmp_path_factory.mktemp("masked") / "ds", plants=8, per_plant=8, mask_fraction=1.0, seed=3
    )


def read_mask(root, path):
    with rasterio.open(root / path) as src:
        return src.read(1)


def reflectance_band(path, band):
    """Band ``band`` (0-based) of an image file as reflectance [H, W]."""
    with rasterio.open(path) as src:
        return src.read(band + 1) / 10_000


def test_same_seed_gives_an_identical_dataset(tmp_path, tiny_dataset):
    again = make_dataset(tmp_path / "again")
    for name in ("observations.csv", "dataset.json", "splits/train.txt", "splits/train_10pct.txt",
                 "truth_daily.csv"):  # fmt: skip
        assert (again / name).read_text() == (tiny_dataset / name).read_text(), name
    frame = pd.read_csv(again / "observations.csv")
    for image in frame["image"]:
        with rasterio.open(again / image) as a, rasterio.open(tiny_dataset / image) as b:
            np.testing.assert_array_equal(a.read(), b.read())
            assert a.transform == b.transform and a.crs == b.crs


def test_another_seed_gives_another_dataset(tmp_path, tiny_dataset):
    other = make_dataset(tmp_path / "other", seed=8)
    assert (other / "observations.csv").read_text() != (
        tiny_dataset / "observations.csv"
    ).read_text()


def test_co2_per_mwh_is_the_fuel_factor_within_the_efficiency_spread(fully_masked):
    frame = pd.read_csv(fully_masked / "observations.csv")
    running = frame[frame["generation_mw"] > 50]
    factor = running["co2_t_per_h"] / running["generation_mw"]
    expected = running["fuel_type"].map(lambda f: physics.FUELS[physics.fuel_index(f)].ef_t_per_mwh)
    ratio = factor / expected
    assert ratio.between(1 - EFFICIENCY_SPREAD - 0.01, 1 + EFFICIENCY_SPREAD + 0.01).all()
    assert ratio.std() > 0.005  # plants differ
    per_plant = ratio.groupby(running["plant_id"]).std()
    assert (per_plant.fillna(0) < 0.01).all()  # one plant, one efficiency


def test_the_daily_truth_covers_every_day_and_agrees_with_the_observed_days(fully_masked):
    truth = pd.read_csv(fully_masked / "truth_daily.csv")
    assert truth.groupby("plant_id")["date"].nunique().eq(730).all()  # 2021 and 2022
    observed = pd.read_csv(fully_masked / "observations.csv")
    observed["date"] = observed["datetime"].str[:10]
    joined = observed.merge(truth, on=["plant_id", "date"], validate="one_to_one")
    assert len(joined) == len(observed)
    # the plant runs at its overpass power all day (rounding: 0.1 MW, 0.1 t/h)
    np.testing.assert_allclose(joined["generation_mwh"], joined["generation_mw"] * 24, atol=2.5)
    np.testing.assert_allclose(joined["co2_t"], joined["co2_t_per_h"] * 24, atol=2.5)
    assert (truth["generation_mwh"] == 0).any() and (truth["generation_mwh"] > 0).mean() > 0.5


def test_load_spread_gives_plants_of_one_fuel_their_own_long_run_load(tmp_path):
    def annual_load(root):
        truth = pd.read_csv(root / "truth_daily.csv")
        plants = pd.read_csv(root / "observations.csv").groupby("plant_id").first()
        energy = truth.groupby("plant_id")["generation_mwh"].sum()
        factor = energy / (plants["capacity_mw"] * 24 * 730)
        return factor.groupby(plants["fuel_type"]).std().mean()

    same = synthesize_power_plants(tmp_path / "same", plants=16, per_plant=1, size=32,
                                   progress=False)  # fmt: skip
    spread = synthesize_power_plants(tmp_path / "spread", plants=16, per_plant=1, size=32,
                                     load_spread=0.15, progress=False)  # fmt: skip
    assert annual_load(spread) > 2 * annual_load(same) and annual_load(spread) > 0.07
    info = json.loads((spread / "dataset.json").read_text())
    assert info["generator"]["load_spread"] == 0.15


def test_off_observations_have_zero_generation_and_an_empty_mask(fully_masked):
    frame = pd.read_csv(fully_masked / "observations.csv")
    off = frame[frame["generation_mw"] == 0]
    assert len(off) >= 1, "no off observation to check; change the seed"
    assert (off["co2_t_per_h"] == 0).all()
    assert all(read_mask(fully_masked, m).sum() == 0 for m in off["mask"])


def test_plume_area_grows_with_generation_across_the_dataset(fully_masked):
    frame = pd.read_csv(fully_masked / "observations.csv")
    frame["plume_px"] = [read_mask(fully_masked, m).sum() for m in frame["mask"]]
    assert frame[["generation_mw", "plume_px"]].corr("spearman").iloc[0, 1] > 0.4


def test_mask_fraction_keeps_that_share_of_masks(tiny_dataset):
    frame = pd.read_csv(tiny_dataset / "observations.csv", keep_default_na=False)
    with_mask = frame["mask"] != ""
    assert with_mask.sum() == round(0.5 * len(frame))
    assert len(list((tiny_dataset / "masks").glob("*.tif"))) == with_mask.sum()


def test_layout_and_provenance(tiny_dataset):
    info = json.loads((tiny_dataset / "dataset.json").read_text())
    assert info["source"] == "synthetic" and info["generator"]["seed"] == 7
    assert info["product"] == "S2L2A" and len(info["bands"]) == 12
    with rasterio.open(next((tiny_dataset / "images").glob("*.tif"))) as src:
        assert src.count == 12 and src.dtypes[0] == "uint16" and src.crs.to_epsg() // 100 == 326
        assert src.res == (10.0, 10.0) and src.shape == (48, 48)
    plants = pd.read_csv(tiny_dataset / "observations.csv")["plant_id"].nunique()
    assert plants == 12


def test_band_statistics_are_those_of_the_training_split(tiny_dataset):
    info = json.loads((tiny_dataset / "dataset.json").read_text())
    stats = json.loads((tiny_dataset / "splits" / "statistics.json").read_text())
    frame = pd.read_csv(tiny_dataset / "observations.csv").set_index("obs_id")
    train = read_split(tiny_dataset, "train")
    stack = []
    for obs in train:
        with rasterio.open(tiny_dataset / frame.loc[obs, "image"]) as src:
            stack.append(src.read().astype(np.float64) / 10_000)
    stack = np.stack(stack)
    mean = [stats["mean"][band] for band in info["bands"]]
    std = [stats["std"][band] for band in info["bands"]]
    np.testing.assert_allclose(mean, stack.mean(axis=(0, 2, 3)), atol=1e-5)
    np.testing.assert_allclose(std, stack.std(axis=(0, 2, 3)), rtol=1e-3)
    assert stats["count"] == len(train)
    assert stats["mean"]["generation_mw"] == pytest.approx(frame.loc[train, "generation_mw"].mean())


def test_l1c_product_writes_13_bands(tmp_path):
    root = make_dataset(tmp_path / "l1c", plants=3, per_plant=1, product_name="S2L1C")
    with rasterio.open(next((root / "images").glob("*.tif"))) as src:
        assert src.count == 13


def test_refuses_to_overwrite_a_dataset(tiny_dataset):
    with pytest.raises(UserError, match="dataset.json exists"):
        synthesize_power_plants(tiny_dataset, plants=3, per_plant=1, progress=False)


def test_generated_splits_keep_each_plant_in_one_split(tiny_dataset):
    frame = pd.read_csv(tiny_dataset / "observations.csv").set_index("obs_id")
    plants = {
        name: set(frame.loc[read_split(tiny_dataset, name), "plant_id"])
        for name in ("train", "val", "test")
    }
    assert plants["train"] and plants["val"] and plants["test"]
    assert not (
        plants["train"] & plants["val"]
        or plants["train"] & plants["test"]
        or plants["val"] & plants["test"]
    )
    assert sum(len(read_split(tiny_dataset, n)) for n in plants) == len(frame)
    assert (
        set(read_split(tiny_dataset, "train_10pct"))
        <= set(read_split(tiny_dataset, "train_50pct"))
        <= set(read_split(tiny_dataset, "train"))
    )


def test_a_plants_surroundings_are_the_same_in_every_overpass(tmp_path):
    """The median of a plant's scenes is its landscape where no plume ever was: the static
    surroundings that a clear-sky reference shows."""
    seed, size = 11, 48
    root = make_dataset(tmp_path / "ds", plants=3, per_plant=15, seed=seed, mask_fraction=1.0)
    observations = pd.read_csv(root / "observations.csv", dtype=str)
    plants = gpd.read_file(root / "plants.geojson")
    red = L2A_BAND_NAMES.index("B04")
    static = [material(m) for m in ("water", "built", "concrete", "coal", "mine", "tank", "soil")]
    for p, plant in plants.iterrows():
        landscape = make_landscape(np.random.default_rng([seed, 1, p]), size, plant["fuel_type"],
                                   float(plant["capacity_mw"]))  # fmt: skip
        expected = SPECTRA[landscape.materials][..., L1C_BAND_NAMES.index("B04")]
        expected = expected * landscape.texture
        scenes, plume = [], np.zeros((size, size), bool)
        own = observations[observations["plant_id"] == plant["plant_id"]]
        for image, mask in zip(own["image"], own["mask"], strict=True):
            scenes.append(reflectance_band(root / image, red))
            plume |= read_mask(root, mask) == 1
        median = np.median(scenes, axis=0)
        where = np.isin(landscape.materials, static) & ~plume
        assert where.sum() >= 30
        assert np.corrcoef(median[where], expected[where])[0, 1] > 0.85
        assert np.abs(median - expected)[where].mean() < 0.04  # haze, shadows, noise
