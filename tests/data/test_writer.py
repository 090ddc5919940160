"""The canonical writer: atomic, resumable, finalised with training-split statistics."""

import json
import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from plantwatch.data import writer as writer_module
from plantwatch.data.errors import DatasetError
from plantwatch.data.observations import PlantObservations
from plantwatch.data.splits import read_split
from plantwatch.data.synthetic import power_plants
from plantwatch.data.writer import JOURNAL, dataset_lock, ensure_split_set
from tests.data.fakes import make_dataset

SMALL = {"plants": 4, "per_plant": 3, "size": 32}


def files_of(root: Path) -> dict[str, bytes]:
    """Every file of a dataset by relative path (the lock beside it excluded)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
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
    with pytest.raises(FileExistsError, match="dataset.json exists"):
        writer_module.DatasetWriter(tiny_dataset, {})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty and holds no dataset"):
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


def test_the_dataset_lock_serialises_processes(tmp_path):
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_hold_lock, args=(str(tmp_path / "ds"), 0.5, str(log)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert log.read_text().splitlines() == ["in", "out", "in", "out"]
