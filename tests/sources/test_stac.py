"""`plantwatch download --service earth-search` against a fake STAC API and COG server on
127.0.0.1: no account, the patch's pixels on the plant's UTM grid, the baseline offset
applied once, tile overlaps merged, a missing asset named, 503 answers retried, the scene
classes of each patch counted and a patch cloud limit applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plantwatch.cli import main
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.tools.check import check_dataset
from plantwatch.sources import stac
from plantwatch.sources.download import download_dataset
from plantwatch.sources.download_plan import resolve
from plantwatch.sources.download_settings import DownloadSettings
from plantwatch.sources.registry import PlantRegistry
from plantwatch.sources.sentinel import plant_patch
from tests.data.entsoe_fakes import two_plants, write_registry
from tests.data.fake_stac import (
    BANDS,
    FakeItem,
    FakeStac,
    expected_db,
    expected_dn,
    fake_stac,
    same_truth,
)

SIZE = 24


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """An open catalogue needs no account: any credential would be a mistake here."""
    for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def registry(tmp_path: Path) -> PlantRegistry:
    return PlantRegistry.read(write_registry(tmp_path / "plants.geojson", two_plants()))


def expected_image() -> np.ndarray:
    columns = np.arange(SIZE)
    return np.stack([np.broadcast_to(expected_dn(b, columns), (SIZE, SIZE)) for b in BANDS])


def add_june(fake: FakeStac, plants: PlantRegistry) -> None:
    """P1: one baseline-05.09 item (ESA's offset in its DNs) and, on another day, one that
    Element 84 harmonised already; P2: a datatake over two tiles (the less cloudy covers
    the west half), and a day whose item lacks the nir09 asset."""
    p1, p2 = (plants.plants.set_index("plant_id").at[p, "geometry"] for p in ("P1", "P2"))
    fake.add(FakeItem("S2A_32UNE_20220603_0_L2A", p1.x, p1.y, "2022-06-03T10:30:00Z", 4.0))
    fake.add(FakeItem("S2B_32UNE_20220608_0_L2A", p1.x, p1.y, "2022-06-08T10:30:00Z", 6.0,
                      offset_applied=True))  # fmt: skip
    fake.add(FakeItem("S2A_34UCB_20220605_0_L2A", p2.x, p2.y, "2022-06-05T09:50:00Z", 3.0,
                      west_half_only=True))  # fmt: skip
    fake.add(FakeItem("S2A_34UCA_20220605_0_L2A", p2.x, p2.y, "2022-06-05T09:50:04Z", 8.0,
                      extra_dn=7))  # fmt: skip
    fake.add(FakeItem("S2A_34UCB_20220615_0_L2A", p2.x, p2.y, "2022-06-15T09:50:00Z", 2.0,
                      missing=("nir09",)))  # fmt: skip
    fake.add(FakeItem("S2A_34UCB_20220618_0_L2A", p2.x, p2.y, "2022-06-18T09:50:00Z", 60.0))


def test_an_open_catalogue_gives_the_patch_on_the_plant_grid_without_an_account(tmp_path):
    plants = registry(tmp_path)
    with fake_stac(tmp_path / "cogs") as fake:
        add_june(fake, plants)
        fake.fail_next = {"/search": 1, "/cogs/S2A_32UNE_20220603_0_L2A/red.tif": 1}  # 503s
        settings = DownloadSettings(start="2022-06-01", end="2022-06-30", size_px=SIZE,
                                    max_cloud_pct=20, service="earth-search",
                                    base_url=fake.url)  # fmt: skip
        summary = download_dataset(plants, tmp_path / "ds", settings, progress=False)
    assert summary.planned == 4  # one acquisition a day; the 60 % cloudy day is not planned
    assert list(summary.failed) == ["P2_20220615"] and "B09" in summary.failed["P2_20220615"]
    assert summary.written == 3 and not summary.complete  # the failure keeps it open
    reader_rows = {}
    for obs in ("P1_20220603", "P1_20220608", "P2_20220605"):
        image, profile = read_geotiff(tmp_path / "ds" / "images" / f"{obs}.tif")
        reader_rows[obs] = image
        patch = plant_patch(*{"P1": (9.95, 53.49), "P2": (19.3, 51.27)}[obs[:2]], SIZE)
        assert profile["transform"] == patch.transform  # the plant's UTM 10 m grid
        assert profile["crs"].to_epsg() == patch.crs.epsg
    expected = expected_image()
    assert (reader_rows["P1_20220603"] == expected).all()  # ESA's +1000 removed once
    assert (reader_rows["P1_20220608"] == expected).all()  # already harmonised: left alone
    merged = reader_rows["P2_20220605"]
    west = np.arange(SIZE) < SIZE // 2
    assert (merged[:, :, west] == expected[:, :, west]).all()  # the less cloudy tile first
    assert (merged[:, :, ~west] == expected[:, :, ~west] + 7).all()  # the other tile fills in
    assert set(fake.fail_next.values()) == {0}  # both 503s were answered, and retried


def test_an_open_catalogue_dataset_is_complete_and_readable(tmp_path, capsys):
    plants = registry(tmp_path)
    with fake_stac(tmp_path / "cogs") as fake:
        add_june(fake, plants)
        fake.items = [i for i in fake.items if not i.missing]  # no failing day
        main(["download", str(tmp_path / "plants.geojson"), str(tmp_path / "ds"), "--start",
              "2022-06-01", "--end", "2022-06-30", "--size", str(SIZE), "--service",
              "earth-search", "--sh-base-url", fake.url, "--quiet"])  # fmt: skip
    assert "wrote" in capsys.readouterr().out
    assert check_dataset(tmp_path / "ds", progress=False) == ("canonical", [])
    dataset = PlantObservations(tmp_path / "ds")
    assert len(dataset) == 3 and dataset.bands == BANDS
    info = dataset.info
    assert info["service"]["name"] == "earth-search" and info["boa_add_offset_dn"] == 0
    # every patch of the fake: 16 of its 576 px cloud, 16 shadow, 16 cirrus (4 × 4 blocks)
    table = dataset.observations
    for group in ("cloud", "shadow", "cirrus"):
        assert table[f"patch_{group}_pct"].tolist() == pytest.approx([100 * 16 / 576] * 3)
    assert (table["patch_snow_pct"] == 0).all()
    # within 500 m of the plant: the whole 240 m patch
    assert table["plant_cloud_pct"].tolist() == pytest.approx([100 * 16 / 576] * 3)
    scl = PlantObservations(tmp_path / "ds", modalities=("image", "scl"))[0]["scl"]
    assert (scl[:4, :4] == 9).all() and (scl[20:, 20:] == 3).all() and scl[5, 5] == 4


def test_scene_classes_near_the_plant_and_the_patch_cloud_limit(tmp_path):
    plants = registry(tmp_path)
    with fake_stac(tmp_path / "cogs") as fake:
        add_june(fake, plants)
        fake.items = [i for i in fake.items if not i.missing]
        common = dict(start="2022-06-01", end="2022-06-30", size_px=SIZE, max_cloud_pct=20,
                      service="earth-search", base_url=fake.url)  # fmt: skip
        near = download_dataset(plants, tmp_path / "near", DownloadSettings(
            **common, plant_radius_m=20.0), progress=False)  # fmt: skip
        strict = download_dataset(plants, tmp_path / "strict", DownloadSettings(
            **common, max_patch_cloud_pct=8.0), progress=False)  # fmt: skip
    table = PlantObservations(tmp_path / "near").observations
    # 2 px around the centre (11.5, 11.5): the central 4 × 4 cirrus block less its corners
    assert (table["plant_cirrus_pct"] == 100).all() and (table["plant_cloud_pct"] == 0).all()
    assert near.complete and near.written == 3
    # 3 × 2.78 % = 8.3 % of each patch is obscured: above 8 %, every patch is left out
    assert sorted(strict.skipped_cloud) == ["P1_20220603", "P1_20220608", "P2_20220605"]
    assert any("--max-patch-cloud" in line for line in strict.lines())
    assert not strict.complete and "no patch was kept" in strict.lines()[-1]
    assert not (tmp_path / "strict" / "dataset.json").exists()


def test_what_an_open_catalogue_lacks_is_refused_with_the_way_out(monkeypatch):
    import planetary_computer

    with pytest.raises(ValueError, match="requester-pays"):
        resolve(DownloadSettings(start="2022-06-01", end="2022-06-02", service="earth-search",
                                 s1=True))  # fmt: skip
    monkeypatch.setattr(planetary_computer.settings.Settings.get(), "subscription_key", None)
    with pytest.raises(ValueError, match="PC_SDK_SUBSCRIPTION_KEY"):
        resolve(DownloadSettings(start="2022-06-01", end="2022-06-02",
                                 service="planetary-computer", s1=True))  # fmt: skip
    with pytest.raises(ValueError, match="S2L2A"):
        resolve(DownloadSettings(start="2022-06-01", end="2022-06-02", service="earth-search",
                                 product="S2L1C"))  # fmt: skip
    assert resolve(DownloadSettings(start="a", end="b", service="earth-search")).base_url == (
        stac.STAC_SERVICES["earth-search"].base_url
    )


def test_the_planetary_computer_names_assets_by_band_and_signs_them(tmp_path, monkeypatch):
    """Assets named B01 … SCL, no Element 84 flag (ESA's DNs: offset from 04.00 on), each
    URL signed when it is read; a blob-storage URL gets the token of its container."""
    import planetary_computer

    plants = registry(tmp_path)
    p1 = plants.plants.set_index("plant_id").at["P1", "geometry"]
    with fake_stac(tmp_path / "cogs") as fake:
        fake.asset_keys = dict(stac.PLANETARY_COMPUTER_ASSETS)
        fake.earth_search_flags = False
        fake.add(FakeItem("S2A_MSIL2A_20220603", p1.x, p1.y, "2022-06-03T10:30:00Z", 4.0))
        settings = DownloadSettings(start="2022-06-01", end="2022-06-30", size_px=SIZE,
                                    service="planetary-computer", base_url=fake.url)  # fmt: skip
        summary = download_dataset(plants, tmp_path / "ds", settings, progress=False)
        assert summary.complete and summary.written == 1
        image, _ = read_geotiff(tmp_path / "ds" / "images" / "P1_20220603.tif")
        assert (image == expected_image()).all()  # ESA's +1000 removed
        monkeypatch.setattr(planetary_computer.settings.Settings.get(), "sas_url",
                            f"{fake.url}/sas")  # fmt: skip
        fake.tokens = {"sentinel2l2a01/sentinel2-l2": "st=1&se=2099&sp=rl&sig=fake"}
        blob = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/T32/B02.tif"
        assert stac.signed_url(blob) == f"{blob}?st=1&se=2099&sp=rl&sig=fake"
        assert stac.signed_url(f"{fake.url}/cogs/x.tif") == f"{fake.url}/cogs/x.tif"


def test_sentinel1_from_the_planetary_computer_is_the_nearest_pass_in_db(tmp_path, monkeypatch):
    """The radar companion of an open-catalogue download: the RTC pass nearest the optical
    one (its two slices of one datatake merged, the farther pass not read), linear γ⁰ in dB
    on the patch grid, and the quantity recorded — terrain-flattened γ⁰, not σ⁰."""
    import planetary_computer

    monkeypatch.setattr(planetary_computer.settings.Settings.get(), "subscription_key", "key")
    plants = registry(tmp_path)
    p1 = plants.plants.set_index("plant_id").at["P1", "geometry"]
    with fake_stac(tmp_path / "cogs") as fake:
        fake.asset_keys = dict(stac.PLANETARY_COMPUTER_ASSETS)
        fake.earth_search_flags = False
        fake.add(FakeItem("S2A_MSIL2A_20220603", p1.x, p1.y, "2022-06-03T10:30:00Z", 4.0))
        for name, when, west_half in (("S1A_20220602_A", "2022-06-02T17:10:00Z", True),
                                      ("S1A_20220602_B", "2022-06-02T17:10:25Z", False),
                                      ("S1A_20220605", "2022-06-05T05:40:00Z", False)):
            fake.add(FakeItem(name, p1.x, p1.y, when, 0.0, radar=True, west_half_only=west_half))
        settings = DownloadSettings(start="2022-06-01", end="2022-06-03", size_px=SIZE,
                                    service="planetary-computer", base_url=fake.url,
                                    s1=True)  # fmt: skip
        single = PlantRegistry(plants.plants[plants.plants["plant_id"] == "P1"], plants.source)
        summary = download_dataset(single, tmp_path / "ds", settings, progress=False)
        read = {r.split()[1].split("/")[2] for r in fake.requests if r.startswith("GET /cogs")}
    assert summary.complete and summary.written == 1
    assert read == {"S2A_MSIL2A_20220603", "S1A_20220602_A", "S1A_20220602_B"}
    radar, profile = read_geotiff(tmp_path / "ds" / "images_s1" / "P1_20220603.tif")
    assert profile["transform"] == plant_patch(9.95, 53.49, SIZE).transform
    columns = np.arange(SIZE)
    for index, band in enumerate(("VV", "VH")):
        expected = np.broadcast_to(expected_db(band, columns), (SIZE, SIZE))
        assert radar[index] == pytest.approx(expected, abs=1e-4)  # both slices, in dB
    dataset = PlantObservations(tmp_path / "ds", modalities=("image", "image_s1"))
    assert dataset.info["s1_backscatter"] == "GAMMA0_TERRAIN"
    assert dataset.observations["s1_datetime"].iloc[0].startswith("2022-06-02T17:10")
    assert check_dataset(tmp_path / "ds", progress=False) == ("canonical", [])


@pytest.mark.parametrize(
    ("baseline", "applied", "offset"),
    [("02.09", False, 0), ("04.00", False, -1000), ("05.09", True, 0)],
)
def test_the_baseline_offset_follows_the_catalogue(baseline, applied, offset):
    properties = {"s2:processing_baseline": baseline, "earthsearch:boa_offset_applied": applied}
    assert stac.offset_dn(properties) == offset


def test_sentinel_hub_and_an_open_catalogue_give_the_same_canonical_images(tmp_path, monkeypatch):
    """One scene (`same_truth`) served by both fakes — by Sentinel Hub harmonised at the
    patch's pixels, by the catalogue as ESA's DNs with the 04.00 offset at every band's own
    resolution — is downloaded twice: the same bands, grid and values."""
    from tests.data.fake_sentinel_hub import TOKEN_PATH, FakeSentinelHub, serve

    monkeypatch.setenv("SH_CLIENT_ID", "plantwatch-test")
    monkeypatch.setenv("SH_CLIENT_SECRET", "secret")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    plants = registry(tmp_path)
    p2 = PlantRegistry(plants.plants[plants.plants["plant_id"] == "P2"], plants.source)
    common = dict(start="2021-06-01", end="2021-06-01", size_px=SIZE, max_cloud_pct=100)
    with serve(FakeSentinelHub(truth=same_truth)) as hub:
        hub_settings = DownloadSettings(**common, base_url=hub.url, token_url=hub.url + TOKEN_PATH)
        download_dataset(p2, tmp_path / "hub", hub_settings, progress=False)
    with fake_stac(tmp_path / "cogs") as fake:
        where = p2.plants.iloc[0].geometry
        fake.add(FakeItem("S2B_34UCB_20210601_0_L2A", where.x, where.y, "2021-06-01T10:20:00Z",
                          5.0, baseline="04.00", truth=True))  # fmt: skip
        download_dataset(p2, tmp_path / "stac", DownloadSettings(
            **common, service="earth-search", base_url=fake.url), progress=False)  # fmt: skip
    hub_image, hub_profile = read_geotiff(tmp_path / "hub" / "images" / "P2_20210601.tif")
    stac_image, stac_profile = read_geotiff(tmp_path / "stac" / "images" / "P2_20210601.tif")
    assert hub_profile["transform"] == stac_profile["transform"]
    assert hub_profile["crs"] == stac_profile["crs"]
    assert hub_image.shape == stac_image.shape == (len(BANDS), SIZE, SIZE)
    assert np.array_equal(hub_image, stac_image)
    hub, stac_ds = PlantObservations(tmp_path / "hub"), PlantObservations(tmp_path / "stac")
    assert hub.bands == stac_ds.bands and hub.info["boa_add_offset_dn"] == 0
    assert stac_ds.info["boa_add_offset_dn"] == 0
