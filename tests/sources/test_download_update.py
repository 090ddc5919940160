"""Monitoring updates: a finished download asked again with a later ``--end`` (and a new
plant) fetches only what is new, touches no file it has, moves no observation between
splits; the same update again sends no request at all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from plantwatch.cli import main
from plantwatch.data.format.splits import read_split
from plantwatch.data.format.writer import ensure_split_set
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.tools.check import check_dataset
from plantwatch.sources.registry import PlantRegistry
from tests.data.entsoe_fakes import two_plants, write_registry
from tests.data.fake_sentinel_hub import TOKEN_PATH, FakeSentinelHub, serve
from tests.sources.test_download import credentials  # noqa: F401 (the autouse fixture)

SPLITS = ("train", "val", "test")


def registry_file(tmp_path: Path, with_p3: bool) -> Path:
    """P2 (Poland) and, later, P3 beside it (their patches overlap: one site)."""
    rows = [two_plants()[1]]
    if with_p3:
        rows.append({**rows[0], "plant_id": "P3", "name": "Gamma", "unit_codes": "U3",
                     "lon": 19.301})  # fmt: skip
    name = "with_p3.geojson" if with_p3 else "p2.geojson"
    return PlantRegistry.read(write_registry(tmp_path / name, rows)).write(tmp_path / name)


def download(fake: FakeSentinelHub, registry: Path, out: Path, end: str) -> None:
    main(["download", str(registry), str(out), "--start", "2021-06-01", "--end", end,
          "--size", "16", "--max-cloud", "100", "--sh-base-url", fake.url, "--sh-token-url",
          fake.url + TOKEN_PATH, "--quiet", "--threads", "2"])  # fmt: skip


def split_of(out: Path, split_seed: int | None = None) -> dict[str, str]:
    return {i: name for name in SPLITS for i in read_split(out, name, split_seed)}


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.tif")}


def test_a_later_end_and_a_new_plant_add_only_what_is_new(tmp_path, capsys):
    out = tmp_path / "ds"
    with serve(FakeSentinelHub()) as fake:
        download(fake, registry_file(tmp_path, with_p3=False), out, "2021-06-20")
        june = PlantObservations(out).observations["obs_id"].tolist()
        assert len(june) == 4  # one acquisition every 5 days
        ensure_split_set(out, 1, progress=False)  # a study used another split seed too
        before = {None: split_of(out), 1: split_of(out, 1)}
        images = digests(out / "images")
        calls = fake.process_calls

        download(fake, registry_file(tmp_path, with_p3=True), out, "2021-07-10")
        fetched = fake.process_calls - calls
        printed = capsys.readouterr().out
        table = PlantObservations(out).observations
        new = table[~table["obs_id"].isin(june)]
        # P2: 4 acquisitions from 21 June to 10 July; P3 (new): all 8 from 1 June
        assert len(new) == 12 and fetched == 12
        assert sorted(new["plant_id"].value_counts().to_dict().items()) == [("P2", 4), ("P3", 8)]
        assert "update of a finished dataset: 2021-06-21..2021-07-10" in printed
        assert {k: v for k, v in digests(out / "images").items() if k in images} == images
        for split_seed, held in before.items():  # no observation moved, in any split set
            now = split_of(out, split_seed)
            assert {i: now[i] for i in held} == held and set(now) == set(table["obs_id"])
        site = table.groupby("site_id")["obs_id"].apply(lambda ids: {split_of(out)[i] for i in ids})
        assert all(len(splits) == 1 for splits in site)  # P3 joined its neighbour's split
        info = json.loads((out / "dataset.json").read_text())
        assert info["request"]["end"] == "2021-07-10"
        assert info["updates"][-1]["observations_added"] == 12
        assert info["updates"][-1]["plants_added"] == ["P3"]
        statistics = json.loads((out / "splits" / "statistics.json").read_text())
        assert statistics["count"] == len(read_split(out, "train"))
        assert check_dataset(out, progress=False) == ("canonical", [])
        assert not list(out.glob("*update*")) and not list(out.rglob("*.partial"))

        calls = fake.process_calls + fake.catalog_calls
        download(fake, registry_file(tmp_path, with_p3=True), out, "2021-07-10")
        assert fake.process_calls + fake.catalog_calls == calls  # a no-op: not one request
        assert "nothing to do" in capsys.readouterr().out


def test_an_update_may_only_move_the_end_later_or_add_plants(tmp_path, capsys):
    out = tmp_path / "ds"
    with serve(FakeSentinelHub()) as fake:
        download(fake, registry_file(tmp_path, with_p3=False), out, "2021-06-20")
        for end in ("2021-06-10",):
            with pytest.raises(SystemExit):
                download(fake, registry_file(tmp_path, with_p3=False), out, end)
            assert "an earlier --end" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(["download", str(registry_file(tmp_path, with_p3=False)), str(out), "--start",
                  "2021-06-01", "--end", "2021-07-10", "--size", "32", "--sh-base-url",
                  fake.url, "--sh-token-url", fake.url + TOKEN_PATH, "--quiet"])  # fmt: skip
        assert "size_px: 16 then, 32 now" in capsys.readouterr().err
