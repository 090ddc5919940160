"""Label sets: a task's labels kept only for the chosen training observations, every other
label and every image still in training; a bad file named; fit trains on one."""

from __future__ import annotations

import pytest

from plantwatch.data.errors import DatasetError
from plantwatch.data.format.label_sets import read_label_set, write_label_set
from plantwatch.data.format.splits import read_split
from plantwatch.data.loading.datamodule import DataModule
from plantwatch.training.cli import PlantwatchCLI
from tests.data.fakes import tiny_cli_args


def train_flags(root, **settings) -> list[dict]:
    module = DataModule(root=str(root), augmentation=None, **settings)
    module.setup("fit")
    train = module.datasets["train"]
    return [{k: bool(v) for k, v in train[i].items() if k.startswith("has_")} | {
        "obs_id": train[i]["obs_id"]} for i in range(len(train))]  # fmt: skip


def test_a_label_set_hides_only_its_task_of_the_other_observations(tiny_dataset, tmp_path):
    before = train_flags(tiny_dataset)
    masked = [s["obs_id"] for s in before if s["has_mask"]]
    keep = masked[:3]
    path = write_label_set(tmp_path / "plume.json", ["has_mask"], keep,
                           rounds=[{"strategy": "random", "selected": keep}])  # fmt: skip
    after = train_flags(tiny_dataset, label_set=str(path))
    assert [s["obs_id"] for s in after] == [s["obs_id"] for s in before]  # every image stays
    assert [s["obs_id"] for s in after if s["has_mask"]] == keep
    for old, new in zip(before, after, strict=True):  # the other labels are untouched
        assert {k: v for k, v in old.items() if k != "has_mask"} == {
            k: v for k, v in new.items() if k != "has_mask"}  # fmt: skip
    assert read_label_set(path)["rounds"][0]["strategy"] == "random"


def test_a_file_that_is_no_label_set_is_named(tmp_path):
    (tmp_path / "bad.json").write_text('{"labelled": "all"}')
    with pytest.raises(DatasetError, match="bad.json: a label set needs"):
        read_label_set(tmp_path / "bad.json")
    with pytest.raises(DatasetError, match="missing.json: no readable label set"):
        read_label_set(tmp_path / "missing.json")


def test_fit_trains_on_a_label_set(tmp_path):
    label_set = tmp_path / "plume_round1.json"
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "runs", label_set=label_set),
            "--trainer.fast_dev_run=true"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    cli.datamodule.prepare_data()
    write_label_set(label_set, ["has_mask"], read_split(tmp_path / "ds", "train")[:4])
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
    hidden = cli.datamodule.datasets["train"].dropped["has_mask"]
    assert len(hidden) == len(cli.datamodule.datasets["train"]) - 4
