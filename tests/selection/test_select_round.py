"""One round of ``plantwatch select`` on a trained tiny run: requests only unlabelled
training observations within the budget and the cap, writes the table, thumbnails and the
grown label set, and fit trains on that label set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from plantwatch.cli import main
from plantwatch.data.format.label_sets import read_label_set, write_label_set
from plantwatch.data.format.splits import read_split
from plantwatch.errors import UserError
from plantwatch.selection.select_round import select_round
from plantwatch.training.cli import PlantwatchCLI
from tests.data.fakes import tiny_cli_args


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A one-epoch tiny run and a label set of three of its training masks."""
    tmp = tmp_path_factory.mktemp("run")
    PlantwatchCLI(args=["fit", *tiny_cli_args(tmp / "ds", tmp / "runs"),
                        "--trainer.max_epochs=1"])  # fmt: skip
    checkpoint = next((tmp / "runs").rglob("best.ckpt"))
    train = read_split(tmp / "ds", "train")
    masks = pd.read_csv(tmp / "ds" / "observations.csv", dtype=str, keep_default_na=False)
    masked = [o for o in masks.loc[masks["mask"] != "", "obs_id"] if o in set(train)]
    seed_set = write_label_set(tmp / "seed.json", ["has_mask"], masked[:3])
    return {"checkpoint": checkpoint, "dataset": tmp / "ds", "seed": seed_set, "tmp": tmp}


@pytest.mark.parametrize("strategy", ["random", "uncertainty", "diversity", "hybrid"])
def test_a_round_requests_unlabelled_training_scenes_within_budget_and_cap(run, strategy,
                                                                           tmp_path):  # fmt: skip
    done = select_round([run["checkpoint"]], "plume", 5, tmp_path, strategy, run["seed"],
                        max_per_plant=2, oracle=True, progress=False)  # fmt: skip
    requests = pd.read_csv(done.requests_csv, dtype={"obs_id": str})
    seed = set(read_label_set(run["seed"])["labelled"])
    train = set(read_split(run["dataset"], "train"))
    assert len(requests) == 5 and requests["rank"].tolist() == [1, 2, 3, 4, 5]
    assert not set(requests["obs_id"]) & seed and set(requests["obs_id"]) <= train
    assert requests["plant_id"].value_counts().max() <= 2  # the cap of two per plant
    assert all((tmp_path / t).is_file() for t in requests["thumbnail"])
    grown = read_label_set(done.label_set)
    assert set(grown["labelled"]) == seed | set(requests["obs_id"])
    assert grown["rounds"][-1]["strategy"] == strategy and grown["flags"] == ["has_mask"]
    masks = pd.read_csv(run["dataset"] / "observations.csv", dtype=str, keep_default_na=False)
    masked = set(masks.loc[masks["mask"] != "", "obs_id"])
    assert set(requests["obs_id"]) <= masked  # the simulated annotator holds their masks


def test_the_command_prints_what_to_run_next_and_fit_trains_on_it(run, tmp_path, capsys):
    main(["select", str(run["checkpoint"]), "--budget", "3", "--strategy", "uncertainty",
          "--label-set", str(run["seed"]), "--out", str(tmp_path / "r1"), "--quiet"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "requested 3 plume labels" in printed and "--data.init_args.label_set" in printed
    args = [*tiny_cli_args(run["dataset"], tmp_path / "runs",
                           label_set=tmp_path / "r1" / "label_set.json"),
            "--trainer.fast_dev_run=true"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished
    train = cli.datamodule.datasets["train"]
    assert len(train) - len(train.dropped["has_mask"]) == 6  # 3 seeds + 3 requested


def test_a_checkpoint_outside_a_run_is_refused_with_the_way(run, tmp_path):
    loose = tmp_path / "model.ckpt"
    loose.write_bytes(run["checkpoint"].read_bytes())
    with pytest.raises(UserError, match="run folder of plantwatch fit"):
        select_round([loose], "plume", 2, tmp_path / "out")
    with pytest.raises(UserError, match="unknown strategy"):
        select_round([run["checkpoint"]], "plume", 2, tmp_path / "out", strategy="greedy")
    for split in ("val", "test"):
        with pytest.raises(UserError, match="never requested"):
            select_round([run["checkpoint"]], "plume", 2, tmp_path / "out", pool=split)


def test_a_smaller_training_pool_is_chosen_from(run, tmp_path):
    done = select_round([run["checkpoint"]], "plume", 20, tmp_path, "uncertainty",
                        max_per_plant=20, pool="train_50pct", thumbnails=False,
                        progress=False)  # fmt: skip
    pool = set(read_split(run["dataset"], "train_50pct"))
    assert set(done.requests["obs_id"]) <= pool and len(done.requests) >= 1
    assert read_label_set(done.label_set)["rounds"][-1]["pool"] == "train_50pct"
