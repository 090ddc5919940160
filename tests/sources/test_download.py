"""`plantwatch download` against a fake Sentinel Hub on 127.0.0.1 (real `sentinelhub` client)."""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sentinelhub import SentinelHubDownloadClient
from sentinelhub.exceptions import SHRateLimitWarning

from plantwatch.cli import main
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.tools.check import check_dataset
from plantwatch.sources import sentinel
from plantwatch.sources.download import download_dataset
from plantwatch.sources.download_settings import DownloadSettings
from plantwatch.sources.labels import ObservationLabels
from plantwatch.sources.registry import PlantRegistry
from tests.data.entsoe_fakes import SFTP, two_plants, write_generation_file, write_registry
from tests.data.fake_sentinel_hub import ACCESS_TOKEN, TOKEN_PATH, FakeSentinelHub, serve

SECRET = "s3cret-never-shown"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Credentials in the environment, a private config home, no cached token sessions."""
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("SH_CLIENT_ID", "plantwatch-test")
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    SentinelHubDownloadClient._CACHED_SESSIONS.clear()
    yield home
    SentinelHubDownloadClient._CACHED_SESSIONS.clear()


def plants(tmp_path: Path) -> PlantRegistry:
    """Three plants: P1 (west, always cloudy in the fake), P2 and P3 (P3 beside P2)."""
    rows = two_plants()
    rows[0]["lon"] = 2.0
    rows.append({**rows[1], "plant_id": "P3", "name": "Gamma", "unit_codes": "U3",
                 "lon": 19.301})  # fmt: skip
    return PlantRegistry.read(write_registry(tmp_path / "plants.geojson", rows))


def settings(fake: FakeSentinelHub, **changes: object) -> DownloadSettings:
    base = dict(start="2021-06-01", end="2021-06-20", size_px=16, base_url=fake.url,
                token_url=fake.url + TOKEN_PATH)  # fmt: skip
    return DownloadSettings(**{**base, **changes})


def config(fake: FakeSentinelHub) -> object:
    service = sentinel.resolve_service("sentinel-hub", fake.url, fake.url + TOKEN_PATH)
    return sentinel.make_config(service, retry_sleep_s=0.01)


def test_download_writes_a_dataset_the_reader_and_check_accept(
    tmp_path: Path, credentials: Path, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    generation = write_generation_file(tmp_path / "gen.csv", [
        ("U2", "2021-06-01 10:00", 650.0, "10YPL"), ("U2", "2021-06-01 10:00", 650.0, "10YPL-C"),
    ], SFTP)  # fmt: skip
    registry = plants(tmp_path)
    labels = ObservationLabels.read(registry, [generation])
    with (
        serve(FakeSentinelHub(cloudy_west_of=5.0, failures=[429, 500])) as fake,
        pytest.warns(SHRateLimitWarning, match="rate limit"),  # the 429, retried
    ):
        summary = download_dataset(registry, tmp_path / "ds", settings(fake, s1=True), labels,
                                   max_threads=3, config=config(fake), progress=False)  # fmt: skip
        calls = fake.process_calls
    print("\n".join(summary.lines()))
    # P1 is cloudy on every day: reported, not fatal; P2 and P3: 2 of 4 days below 20 %
    assert summary.complete and summary.no_acquisition == ["P1 (Alpha)"]
    assert summary.written == 4 and summary.failed == {}
    assert calls == 4 * 2 + 2  # S2 + S1 per patch, plus the 429 and the 500 that were retried
    dataset = PlantObservations(tmp_path / "ds", modalities=("image", "image_s1"))
    sample = dataset[0]
    assert sample["image"].shape == (12, 16, 16) and sample["image_s1"].shape == (2, 16, 16)
    assert 0.02 < float(sample["image"].mean()) < 0.3  # reflectance, from DN × 1e-4
    assert sample["crs"].startswith("EPSG:326")
    assert "VV" in dataset.statistics.mean
    observed = dataset.observations.set_index("obs_id")
    assert observed.loc["P2_20210601", "generation_mw"] == 650.0  # area duplicate counted once
    assert observed.loc["P2_20210601", "co2_source"] == "emission_factor"
    assert observed["site_id"].nunique() == 1  # P2 and P3 overlap: one split group
    # the scene classification of L2A comes with the bands: cloud over the fake's top rows
    assert (observed["patch_cloud_pct"] == 25).all() and (observed["patch_shadow_pct"] == 0).all()
    scl = PlantObservations(tmp_path / "ds", modalities=("image", "scl"))[0]["scl"]
    assert (scl[:4] == 9).all() and (scl[4:] == 4).all()
    layout, problems = check_dataset(tmp_path / "ds", progress=False)
    assert (layout, problems) == ("canonical", [])
    # the secret went to the token endpoint only, and nowhere else
    assert fake.secrets_seen == [SECRET]
    text = caplog.text + capsys.readouterr().out
    assert SECRET not in text and ACCESS_TOKEN not in text
    assert "Obtained token {'access_token': '***'" in caplog.text  # the record is kept, redacted
    for path in (tmp_path / "ds").rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    assert not credentials.exists() and not (tmp_path / "home").exists()  # no config written


def test_dry_run_lists_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    with serve(FakeSentinelHub()) as fake:
        summary = download_dataset(
            plants(tmp_path), tmp_path / "ds", settings(fake, max_cloud_pct=100.0), dry_run=True,
            config=config(fake), progress=False,
        )  # fmt: skip
        assert fake.process_calls == 0 and fake.catalog_calls > 3  # paged
    assert summary.planned == 12 and summary.process_requests == 12
    assert not (tmp_path / "ds").exists()


def test_cli_dry_run_prints_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry_path = plants(tmp_path).write(tmp_path / "registry.csv")
    with serve(FakeSentinelHub()) as fake:
        main(["download", str(registry_path), str(tmp_path / "ds"), "--start", "2021-06-01",
              "--end", "2021-06-10", "--s1", "--dry-run", "--quiet", "--sh-base-url", fake.url,
              "--sh-token-url", fake.url + TOKEN_PATH])  # fmt: skip
    out = capsys.readouterr().out
    assert "dry run: 3 S2L2A patches of 120 px for 3 plants" in out  # day 1 of 1, 6 is < 20 %
    assert "would send 6 process requests" in out and not (tmp_path / "ds").exists()


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_killed_download_resumes_without_refetching_and_a_rerun_is_a_no_op(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry_path = plants(tmp_path).write(tmp_path / "registry.geojson")
    out = tmp_path / "ds"
    with serve(FakeSentinelHub(delay_s=0.3)) as fake:
        command = [
            sys.executable, "-c", "from plantwatch.cli import main; main()", "download",
            str(registry_path), str(out), "--start", "2021-06-01", "--end", "2021-06-20",
            "--size", "16", "--max-cloud", "100", "--threads", "1", "--sh-base-url", fake.url,
            "--sh-token-url", fake.url + TOKEN_PATH, "--quiet",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=REPO, env=os.environ.copy())
        journal = out / "rows.jsonl.partial"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if journal.is_file() and len(journal.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        process.kill()
        process.wait()
        done = len(journal.read_text().splitlines())
        assert 3 <= done < 12, "the download should have been killed part-way"
        calls_before = fake.process_calls
        main([*command[3:]])
        refetched = fake.process_calls - calls_before
        assert refetched == 12 - done  # the finished patches were not fetched again
        calls_before, written = fake.process_calls + fake.catalog_calls, files_of(out)
        main([*command[3:]])  # a nightly pipeline runs the same command again: a no-op
        assert fake.process_calls + fake.catalog_calls == calls_before
    assert "complete from an earlier run of the same request; nothing to do" in (
        capsys.readouterr().out
    )
    assert files_of(out) == written
    assert (out / "dataset.json").is_file() and not journal.exists()
    assert not list(out.rglob("*.partial"))
    for image in sorted((out / "images").glob("*.tif")):
        assert read_geotiff(image)[0].shape == (12, 16, 16)
    assert len(PlantObservations(out)) == 12


def test_failures_leave_the_dataset_open_and_a_rerun_finishes(tmp_path: Path) -> None:
    registry = plants(tmp_path).filter(countries=["Poland"])
    with serve(FakeSentinelHub(failures=[500] * 4, no_data_days={"20210611"})) as fake:
        first = download_dataset(registry, tmp_path / "ds", settings(fake), max_threads=1,
                                 config=config(fake), progress=False)  # fmt: skip
        assert len(first.failed) == 1 and not first.complete  # 4 attempts, all answered 500
        assert "DownloadFailedException" in next(iter(first.failed.values()))
        assert not (tmp_path / "ds" / "dataset.json").exists()
        second = download_dataset(registry, tmp_path / "ds", settings(fake), max_threads=1,
                                  config=config(fake), progress=False)  # fmt: skip
    assert second.complete and second.no_acquisition == []
    assert sorted(second.skipped_no_data) == ["P2_20210611", "P3_20210611"]
    assert second.written == 2


def test_l1c_with_weather_for_every_row_declares_weather_inputs(tmp_path: Path) -> None:
    registry = plants(tmp_path).filter(countries=["Poland"])
    weather = tmp_path / "weather.csv"
    lines = ["plant_id,datetime,temperature_c,relative_humidity_pct,wind_u_ms,wind_v_ms"]
    lines += [f"{p},2021-06-{d:02d}T10:00:00Z,{15 + d},70,1.5,-0.5" for p in ("P2", "P3")
              for d in range(1, 21)]  # fmt: skip
    weather.write_text("\n".join(lines) + "\n")
    labels = ObservationLabels.read(registry, weather_file=weather)
    with serve(FakeSentinelHub()) as fake:
        summary = download_dataset(registry, tmp_path / "ds", settings(fake, product="S2L1C"),
                                   labels, config=config(fake), progress=False)  # fmt: skip
    assert summary.complete and summary.written == 4
    dataset = PlantObservations(tmp_path / "ds")
    assert dataset.info["product"] == "S2L1C" and dataset[0]["image"].shape == (13, 16, 16)
    assert dataset.aux_columns == ("temperature_c", "relative_humidity_pct", "wind_u_ms",
                                   "wind_v_ms")  # fmt: skip
    assert float(dataset[0]["aux"][0]) == 16.0  # 1 June, the row 20 min before the overpass
    assert not dataset.labels()["has_power"].any()  # no generation files: MW unknown
    # L1C's cloud mask: the fake's top quarter is cloud; its plume pixels can be masked
    assert (dataset.observations["patch_cloud_pct"] == 25).all()
    assert "patch_shadow_pct" not in dataset.observations  # the mask knows no shadows
    masked = PlantObservations(tmp_path / "ds", modalities=("image", "clm"), mask_obscured=True)
    sample = masked[0]
    assert (sample["clm"][:4] == 2).all() and (sample["clm"][4:] == 1).all()
    assert (sample["mask"] == 255).all()  # no plume labels here: unlabelled everywhere


def test_a_registry_id_that_is_a_path_is_refused_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = two_plants()
    rows[0]["plant_id"] = "../../../x"
    registry_path = write_registry(tmp_path / "plants.geojson", rows)
    with serve(FakeSentinelHub()) as fake:
        with pytest.raises(SystemExit) as stop:
            main(["download", str(registry_path), str(tmp_path / "ds"), "--start", "2021-06-01",
                  "--end", "2021-06-10", "--quiet", "--sh-base-url", fake.url,
                  "--sh-token-url", fake.url + TOKEN_PATH])  # fmt: skip
        assert fake.catalog_calls == 0 and fake.process_calls == 0
    error = capsys.readouterr().err
    assert stop.value.code == 2 and "plant_id '../../../x' is not a safe id" in error
    assert str(registry_path) in error and not (tmp_path / "ds").exists()
    assert not (tmp_path.parent / "x.tif").exists()


@pytest.mark.parametrize("credentials_set", [True, False])
def test_refused_or_missing_credentials_end_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    credentials_set: bool,
) -> None:  # fmt: skip
    registry_path = plants(tmp_path).write(tmp_path / "registry.csv")
    if not credentials_set:
        monkeypatch.delenv("SH_CLIENT_SECRET")
    with serve(FakeSentinelHub(token_status=401)) as fake:
        with pytest.raises(SystemExit) as stop:
            main(["download", str(registry_path), str(tmp_path / "ds"), "--start", "2021-06-01",
                  "--end", "2021-06-10", "--quiet", "--sh-base-url", fake.url,
                  "--sh-token-url", fake.url + TOKEN_PATH])  # fmt: skip
        assert fake.catalog_calls == 0
    error = capsys.readouterr().err.strip()
    expected = ("the token request was refused ((invalid_client) Invalid client); check "
                "SH_CLIENT_ID and SH_CLIENT_SECRET") if credentials_set else (
                "no Sentinel Hub credentials: set SH_CLIENT_ID and SH_CLIENT_SECRET")  # fmt: skip
    assert stop.value.code == 2 and len(error.splitlines()) == 1 and expected in error
    assert SECRET not in error and not (tmp_path / "ds").exists()


def test_an_incomplete_download_exits_1_and_says_to_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = functools.partial(sentinel.make_config, retry_sleep_s=0.01)
    monkeypatch.setattr(sentinel, "make_config", quick)
    registry_path = plants(tmp_path).filter(countries=["Poland"]).write(tmp_path / "r.csv")
    with serve(FakeSentinelHub(failures=[500] * 4)) as fake:
        with pytest.raises(SystemExit) as stop:
            main(["download", str(registry_path), str(tmp_path / "ds"), "--start", "2021-06-01",
                  "--end", "2021-06-20", "--size", "16", "--threads", "1", "--quiet",
                  "--sh-base-url", fake.url, "--sh-token-url", fake.url + TOKEN_PATH])  # fmt: skip
    out = tmp_path / "ds"
    assert stop.value.code == f"{out} is incomplete; rerun the same command to finish it"
    assert "1 failed; rerun the same command to retry them" in capsys.readouterr().out


def test_services_and_credentials() -> None:
    cdse = sentinel.resolve_service("cdse")
    assert cdse.base_url == "https://sh.dataspace.copernicus.eu"
    assert "identity.dataspace.copernicus.eu" in cdse.token_url
    assert sentinel.resolve_service("cdse", "http://mirror").base_url == "http://mirror"
    with pytest.raises(ValueError, match="unknown service"):
        sentinel.resolve_service("planet")
    os.environ.pop("SH_CLIENT_SECRET")
    with pytest.raises(PermissionError, match="SH_CLIENT_ID and SH_CLIENT_SECRET"):
        sentinel.credentials()


def test_patch_is_on_the_utm_grid_around_the_plant() -> None:
    patch = sentinel.plant_patch(19.315, 51.266, 120)
    assert patch.crs.epsg == 32634
    west, south, east, north = patch.bbox
    assert (east - west, north - south) == (1200.0, 1200.0)
    assert west % 10 == 0 and north % 10 == 0
    assert (patch.transform.c, patch.transform.f, patch.transform.a) == (west, north, 10.0)
