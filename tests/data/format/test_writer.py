"""The canonical writer: atomic, resumable, finalised with training-split statistics."""

import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rasterio.transform import Affine

from plantwatch.data.errors import DatasetError
from plantwatch.data.format import writer as writer_module
from plantwatch.data.format.splits import read_split
from plantwatch.data.format.writer import JOURNAL, WRITER_LOCK, dataset_lock, ensure_split_set
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.synthetic import power_plants
from plantwatch.errors import UserError
from tests.data.fakes import make_dataset

SMALL = {"plants": 4, "per_plant": 3, "size": 32}


def files_of(root: Path) -> dict[str, bytes]:
    """Every file of a dataset by relative path (the writer's lock file excluded)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != WRITER_LOCK
    }


class CountingRenderer:
    """Stands in for the scene renderer: counts scenes, and dies at scene ``die_at``."""

    def __init__(self, die_at: int | None = None) -> None:
        self.real, self.die_at, self.count = power_plants.render_scene, die_at, 0

    def __call__(self, *args, **kwargs):
        self.count += 1
        if self.count == self.die_at:
            raise KeyboardInterrupt  # the process is killed mid-way
        return self.real(*args, **kwargs)


def test_a_writer_killed_mid_way_and_rerun_gives_the_uninterrupted_dataset(tmp_path, monkeypatch):
    uninterrupted = make_dataset(tmp_path / "whole", **SMALL)
    monkeypatch.setattr(power_plants, "render_scene", CountingRenderer(die_at=6))
    with pytest.raises(KeyboardInterrupt):
        make_dataset(tmp_path / "killed", **SMALL)
    partial = tmp_path / "killed"
    assert not (partial / "dataset.json").exists()  # not mistaken for a complete dataset
    assert len((partial / JOURNAL).read_text().splitlines()) == 5
    with pytest.raises(DatasetError, match="dataset.json: not found.*interrupted.*resumes"):
        PlantObservations(partial)

    resume = CountingRenderer()
    monkeypatch.setattr(power_plants, "render_scene", resume)
    resumed = make_dataset(partial, **SMALL)
    assert resume.count == 12 - 5  # only the missing scenes were rendered
    assert files_of(resumed) == files_of(uninterrupted)


def test_a_row_cut_by_a_kill_is_written_again_on_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(power_plants, "render_scene", CountingRenderer(die_at=3))
    with pytest.raises(KeyboardInterrupt):
        make_dataset(tmp_path / "ds", **SMALL)
    journal = tmp_path / "ds" / JOURNAL
    journal.write_text(journal.read_text()[:-20])  # the last row was cut mid-line
    monkeypatch.setattr(power_plants, "render_scene", CountingRenderer())
    root = make_dataset(tmp_path / "ds", **SMALL)
    assert len(pd.read_csv(root / "observations.csv")) == 12
    assert files_of(root) == files_of(make_dataset(tmp_path / "whole", **SMALL))


def test_the_writer_refuses_a_complete_dataset_and_foreign_folders(tiny_dataset, tmp_path):
    with pytest.raises(UserError, match="dataset.json exists"):
        writer_module.DatasetWriter(tiny_dataset, {})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty and holds no dataset"):
        writer_module.DatasetWriter(tmp_path / "other", {})


def test_other_split_seeds_are_finalised_on_demand_with_their_own_statistics(tmp_path):
    root = make_dataset(tmp_path / "ds", plants=8, per_plant=2, size=24)
    folder = ensure_split_set(root, 3, progress=False)
    assert folder == root / "splits" / "seed3"
    other, default = read_split(root, "train", 3), read_split(root, "train")
    assert other != default
    frame = pd.read_csv(root / "observations.csv").set_index("obs_id")
    stats = json.loads((folder / "statistics.json").read_text())
    assert stats["split_seed"] == 3 and stats["count"] == len(other)
    assert stats["mean"]["generation_mw"] == pytest.approx(frame.loc[other, "generation_mw"].mean())
    reader = PlantObservations(root, split="test", split_seed=3)
    assert reader.statistics.count == len(other)
    assert set(reader.observations.index) == set(read_split(root, "test", 3))
    assert ensure_split_set(root, 3) == folder  # second call: nothing to do


def _hold_lock(root: str, seconds: float, log: str) -> None:
    import time

    with dataset_lock(root):
        with open(log, "a") as handle:
            handle.write("in\n")
        time.sleep(seconds)
        with open(log, "a") as handle:
            handle.write("out\n")


def test_the_dataset_lock_serialises_processes_that_overlap(tmp_path):
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    first = context.Process(target=_hold_lock, args=(str(tmp_path / "ds"), 3.0, str(log)))
    first.start()
    for _ in range(600):  # the second starts only once the first holds the lock
        if log.is_file() and log.read_text():
            break
        time.sleep(0.05)
    second = context.Process(target=_hold_lock, args=(str(tmp_path / "ds"), 0.0, str(log)))
    second.start()
    for worker in (first, second):
        worker.join(timeout=120)
    # unserialised, the second would write "in" while the first sleeps: in, in, out, out
    assert log.read_text().splitlines() == ["in", "out", "in", "out"]


def test_a_resume_with_other_settings_is_refused_naming_the_differences(tmp_path, monkeypatch):
    monkeypatch.setattr(power_plants, "render_scene", CountingRenderer(die_at=3))
    with pytest.raises(KeyboardInterrupt):
        make_dataset(tmp_path / "ds", **SMALL)
    monkeypatch.setattr(power_plants, "render_scene", CountingRenderer())
    before = files_of(tmp_path / "ds")
    with pytest.raises(UserError, match=r"other settings \(generator.size: 32 then, 48 now\)"):
        make_dataset(tmp_path / "ds", **{**SMALL, "size": 48})
    assert files_of(tmp_path / "ds") == before  # nothing written, nothing mixed
    root = make_dataset(tmp_path / "ds", **SMALL)  # the same settings finish it
    assert files_of(root) == files_of(make_dataset(tmp_path / "whole", **SMALL))


def test_a_second_writer_on_the_same_folder_is_refused_while_the_first_writes(tmp_path):
    first = writer_module.DatasetWriter(tmp_path / "ds", {"source": "one"})
    with pytest.raises(UserError, match="another process is writing this dataset"):
        writer_module.DatasetWriter(tmp_path / "ds", {"source": "one"})
    assert first.has("x") is False


@pytest.mark.parametrize("obs_id", ["../escape", "a/b", "", "/abs"])
def test_an_observation_id_that_is_a_path_is_refused(tmp_path, obs_id):
    writer = writer_module.DatasetWriter(tmp_path / "ds", {})
    with pytest.raises(UserError, match="obs_id .* is not a safe id"):
        writer.add({"obs_id": obs_id}, np.zeros((1, 2, 2), np.uint16), "EPSG:32632",
                   Affine.identity())  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
