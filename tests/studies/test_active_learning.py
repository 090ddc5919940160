"""The annotation loop simulated by the study runner: a shared start set, each strategy's
rounds chosen by its previous round's model from the training masks only, the record's
labels-saved headline; the saved labels counted by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from plantwatch.cli import main
from plantwatch.data.format.label_sets import read_label_set
from plantwatch.data.format.splits import read_split
from plantwatch.errors import UserError
from plantwatch.studies.labels_saved import masks_saved
from plantwatch.studies.spec import Study
from tests.data.fakes import tiny_cli_args

REPO = Path(__file__).parents[2]


def write_study(tmp_path: Path, **changes) -> Path:
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "unused"), "--trainer.max_epochs=1",
            "--trainer.limit_val_batches=2", "--model.init_args.tasks=[plume]"]  # fmt: skip
    study = {
        "name": "tiny_al", "base": ["quickstart"],
        "args": [a for a in args if "logger.init_args.save_dir" not in a],
        "seeds": [0], "split_seeds": [0], "label_fractions": [0.25, 0.6],
        "active_learning": {"task": "plume", "max_per_plant": 2},
        "metrics": ["plume_iou", "plume_f1"], "headline": ["plume_iou"], "reference": "random",
        "variants": {"random": {}, "hybrid": {}}, **changes,
    }  # fmt: skip
    path = tmp_path / "tiny_al.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.slow  # three runs in their own processes: about a minute on 2 CPU cores
def test_a_simulated_annotation_loop_grows_each_strategys_label_set(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    study_file = write_study(tmp_path)
    runs, results = tmp_path / "runs", tmp_path / "results"
    main(["compare", str(study_file), "--root", str(runs), "--results", str(results)])
    sets = runs / "tiny_al" / "label_sets" / "split0_seed0"
    start = set(read_label_set(sets / "start" / "label_set.json")["labelled"])
    observations = pd.read_csv(tmp_path / "ds" / "observations.csv", dtype=str,
                               keep_default_na=False)  # fmt: skip
    train = set(read_split(tmp_path / "ds", "train", split_seed=0))
    masked = train & set(observations.loc[observations["mask"] != "", "obs_id"])
    assert start <= masked and len(start) == math.ceil(0.25 * len(masked))
    for strategy in ("random", "hybrid"):
        grown = read_label_set(sets / strategy / "frac0.6" / "label_set.json")
        assert start < set(grown["labelled"]) <= masked  # training masks only, start kept
        assert len(grown["labelled"]) == math.ceil(0.6 * len(masked))
        assert grown["rounds"][-1]["strategy"] == strategy
        assert grown["rounds"][-1]["checkpoints"][0].endswith("random/frac0.25/split0_seed0/"
                                                              "checkpoints/best.ckpt")  # fmt: skip
    assert len(list(runs.glob("tiny_al/*/frac*/*/metrics.json"))) == 3  # start + 2 rounds
    frame = pd.read_csv(results / "tiny_al.csv")
    trained = frame[frame["variant"].isin(["random", "hybrid"])]
    assert sorted(trained["train_images"]) == sorted(
        [len(start), math.ceil(0.6 * len(masked)), math.ceil(0.6 * len(masked))]
    )  # the x-axis: masks
    record = (results / "tiny_al.md").read_text()
    assert "## Labels saved at equal plume IoU" in record and "| hybrid |" in record
    plan = json.loads(next(runs.glob("tiny_al/hybrid/*/*/selection.json")).read_text())
    assert plan["previous"]["label_set"].endswith("start/label_set.json")


def test_labels_saved_are_read_off_the_reference_curve():
    summary = pd.DataFrame({
        "variant": ["random"] * 3 + ["hybrid"] * 2,
        "labels": [10, 20, 30, 20, 30], "plume_iou_mean": [0.5, 0.6, 0.7, 0.65, 0.75],
    })  # fmt: skip
    found = masks_saved(summary, "plume_iou", "hybrid", "random")
    assert found == {"labels": 30.0, "value": 0.75, "reference_labels": None, "saved": None}
    early = summary[~((summary["variant"] == "hybrid") & (summary["labels"] == 30))]
    found = masks_saved(early, "plume_iou", "hybrid", "random")
    assert found["reference_labels"] == pytest.approx(25.0) and found["saved"] == pytest.approx(5)
    mae = summary.rename(columns={"plume_iou_mean": "power_mae_mw_mean"}).assign(
        power_mae_mw_mean=[50.0, 40.0, 30.0, 45.0, 35.0])  # fmt: skip
    found = masks_saved(mae, "power_mae_mw", "hybrid", "random", higher=False)
    assert found["reference_labels"] == pytest.approx(25.0) and found["saved"] == pytest.approx(-5)


def test_an_active_learning_study_needs_strategies_and_growing_fractions(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(UserError, match="no strategies"):
        Study.from_yaml(write_study(tmp_path, variants={"random": {}, "multitask": {}}))
    with pytest.raises(UserError, match="must grow"):
        Study.from_yaml(write_study(tmp_path, label_fractions=[0.5, 0.2]))
    study = Study.from_yaml(write_study(tmp_path))
    assert sorted((r.label_fraction, r.variant) for r in study.runs()) == [
        (0.25, "random"), (0.6, "hybrid"), (0.6, "random")]  # the start only once  # fmt: skip


def test_the_committed_study_starts_and_its_first_round_trains(tmp_path, monkeypatch):
    """experiments/studies/active_learning.yaml parses; its start run's label set is made
    and trains (fast_dev_run on tiny data)."""
    from plantwatch.studies.active_learning import SELECTION_JSON
    from plantwatch.studies.annotation_loop import prepare_label_set, selection_plan
    from plantwatch.studies.runner import run_dir
    from plantwatch.training.cli import PlantwatchCLI

    monkeypatch.chdir(REPO)
    study = Study.from_yaml(REPO / "experiments" / "studies" / "active_learning.yaml")
    assert len(study.seeds) >= 3 and len(study.split_seeds) >= 2
    assert set(study.variants) == {"random", "uncertainty", "diversity", "hybrid"}
    study.write_variant_configs(tmp_path)
    first = study.runs()[0]
    folder = run_dir(tmp_path, first)
    folder.mkdir(parents=True)
    plan = selection_plan(study, first, tmp_path, lambda r: run_dir(tmp_path, r))
    (folder / SELECTION_JSON).write_text(json.dumps(plan))
    args = [*study.run_args(first, tmp_path), *tiny_cli_args(tmp_path / "ds", tmp_path),
            "--trainer.fast_dev_run=true"]  # fmt: skip
    assert prepare_label_set(folder, args) >= 1
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished
