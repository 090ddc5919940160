"""A tiny study end to end: killed part-way, resumed, every cell recomputed from the CSV."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from plantwatch.cli import main
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.errors import UserError
from plantwatch.estimates.evaluation import MEAN as MEAN_OF_OVERPASSES
from plantwatch.estimates.evaluation import TRUE_MEAN
from plantwatch.studies.spec import Run, Study
from plantwatch.studies.statistics import with_spread
from plantwatch.tasks.baselines import CAPACITY, MEAN
from plantwatch.tasks.metrics import task_of
from plantwatch.tasks.plume_reference import TRUE_PLUME
from tests.data.fakes import tiny_cli_args

REPO = Path(__file__).parents[2]


def write_study(tmp_path: Path) -> Path:
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "unused"), "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]  # fmt: skip
    args = [a for a in args if "logger.init_args.save_dir" not in a]  # the study sets it
    study = {
        "name": "tiny",
        "base": ["quickstart"],
        "args": args,
        "seeds": [0, 1],
        "label_fractions": [1.0],
        "baselines": {"power": "single_power"},
        "variants": {
            "single_power": ["experiments/model/single_task_power.yaml"],
            "multitask": {"model": {"init_args": {"tasks": ["plume", "fuel", "power", "co2"]}}},
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def test_a_killed_study_resumes_without_rerunning_finished_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    study_file = write_study(tmp_path)
    runs, results = tmp_path / "runs", tmp_path / "results"
    command = [sys.executable, "-c", "from plantwatch.cli import main; main()", "compare",
               str(study_file), "--root", str(runs), "--results", str(results)]  # fmt: skip
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # no wall-clock limit: however slow the machine, wait for the first finished run
    while process.poll() is None and not list(runs.glob("**/metrics.json")):
        time.sleep(0.2)
    assert list(runs.glob("**/metrics.json")), "the study ended before a run finished"
    os.killpg(process.pid, signal.SIGKILL)  # the study and the run in progress die
    process.wait()
    finished_before = {p.parent for p in runs.glob("**/metrics.json")}
    assert len(finished_before) < 4

    main(["compare", str(study_file), "--root", str(runs), "--results", str(results)])

    run_dirs = {p.parent for p in runs.glob("**/args.json")}
    assert len(run_dirs) == 4 and all((d / "metrics.json").is_file() for d in run_dirs)
    for folder in run_dirs:  # a finished run keeps its best checkpoint, not the one to resume
        checkpoints = folder / "checkpoints"
        assert (checkpoints / "best.ckpt").is_file() and not (checkpoints / "last.ckpt").exists()
    for folder in finished_before:
        assert len((folder / "attempts.log").read_text().splitlines()) == 1, folder  # not rerun

    frame = pd.read_csv(results / "tiny.csv")
    baselines = frame[frame["variant"].isin([MEAN, CAPACITY])]
    assert len(baselines) == 2 and baselines["seed"].isna().all()  # one split, one fraction
    train = PlantObservations(tmp_path / "ds", split="train").observations
    test = PlantObservations(tmp_path / "ds", split="test").observations
    load = (train["generation_mw"] / train["capacity_mw"]).mean()
    expected = (test["capacity_mw"] * load - test["generation_mw"]).abs().mean()
    assert baselines.set_index("variant").loc[CAPACITY, "power_mae_mw"] == pytest.approx(
        expected, rel=1e-4
    )  # recomputed from the dataset's own tables
    # per-plant annual totals of the test plants against the synthetic truth, both ways
    assert np.isfinite(baselines.set_index("variant").loc[CAPACITY, "co2_annual_rmse_mt"])
    assert (frame.loc[frame["variant"] == "multitask", "power_annual_rmse_twh"] > 0).all()
    assert frame.loc[frame["variant"] == "multitask", "co2_annual_coverage"].notna().all()
    assert all((d / "overpass_curve.csv").is_file() for d in run_dirs)
    assert frame.loc[frame["variant"] == "multitask", "power_monthly_rmse_twh"].notna().all()
    simple = frame[frame["variant"] == f"multitask: {MEAN_OF_OVERPASSES}"]
    assert len(simple) == 2 and set(simple["seed"]) == {0, 1}  # the model's: one per run
    assert (frame["variant"] == TRUE_MEAN).sum() == 1  # the data's: one per split
    assert (frame["variant"] == TRUE_PLUME).sum() == 1  # the data has plume masks
    frame = frame[frame["variant"].isin(["single_power", "multitask"])]
    assert len(frame) == 4 and set(frame["seed"]) == {0, 1}
    training = PlantObservations(tmp_path / "ds", split="train")
    assert (frame["train_images"] == len(training)).all()  # the x-axis of label-fraction figures
    table = (results / "tiny.md").read_text()
    assert "tiny_overpasses_power_annual_rmse_twh.png" in table
    assert "plantwatch compare" in table and "torch" in table
    assert "runs: 4 of 4 finished" in table and "over 1 `compare` call(s)" in table
    capacity_row = next(r for r in table.splitlines() if r.startswith(f"| {CAPACITY} (baseline)"))
    assert capacity_row.count("| – ") == 2  # fuel and plume: it predicts neither
    details = table[table.index("<details>") :]
    reference = Study.from_yaml(study_file).reference  # the first variant
    for variant, rows in frame.groupby("variant"):
        name = f"{variant} (reference)" if variant == reference else variant
        for metric, where in (("power_mae_mw", table), ("power_r2", details)):
            line = next(r for r in where.splitlines() if r.startswith(f"| {name} | 2 |"))
            mean, std = rows[metric].mean(), np.std(rows[metric], ddof=1)
            assert with_spread(mean, std) in line, (variant, metric)
    other = ({"single_power", "multitask"} - {reference}).pop()
    assert f"Paired differences against **{reference}**" in table
    assert f"| {other} | 2 |" in table[table.index("Paired") :]  # two seeds, two pairs
    assert (
        "fuel_macro_f1" in frame
        and frame.loc[frame.variant == "single_power", "fuel_macro_f1"].isna().all()
    )
    assert (results / "tiny_power_mae_mw.png").is_file()
    assert (results / "tiny_power_reliability.png").is_file()  # conformal intervals per variant
    with (results / "tiny.md").open("a") as record:
        record.write("\n## Discussion\n\nWritten by hand.\n")
    (results / "tiny_power_mae_mw.png").unlink()
    main(["compare", str(study_file), "--results", str(results), "--record-only"])
    again = (results / "tiny.md").read_text()
    assert again == table + "\n## Discussion\n\nWritten by hand.\n"  # from the tables alone
    assert (results / "tiny_power_mae_mw.png").is_file()
    before = {d: json.loads((d / "metrics.json").read_text()) for d in run_dirs}
    main(["compare", str(study_file), "--root", str(runs), "--results", str(results),
          "--rescore", "--report"])  # fmt: skip
    site = runs / "tiny" / "report" / "site"  # the chosen variant's first run, as a web page
    assert (site / "index.html").is_file() and len(list(site.glob("plants/*.html"))) >= 1
    for folder, metrics in before.items():  # the same scores from the saved predictions
        assert json.loads((folder / "metrics.json").read_text()) == pytest.approx(
            metrics, nan_ok=True
        )


def test_parallel_runs_generate_a_missing_dataset_once_and_vary_the_split(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "unused"), "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]  # fmt: skip
    study = {
        "name": "parallel", "base": ["quickstart"],
        "args": [a for a in args if "logger.init_args.save_dir" not in a],
        "seeds": [0], "split_seeds": [0, 1], "label_fractions": [1.0],
        "variants": {"single_power": ["experiments/model/single_task_power.yaml"]},
    }  # fmt: skip
    path = tmp_path / "parallel.yaml"
    path.write_text(yaml.safe_dump(study))
    assert not (tmp_path / "ds").exists()
    main(["compare", str(path), "--root", str(tmp_path / "runs"), "--results",
          str(tmp_path / "results"), "--jobs", "2"])  # fmt: skip
    frame = pd.read_csv(tmp_path / "results" / "parallel.csv")
    frame = frame[frame["variant"] == "single_power"]
    assert sorted(frame["split_seed"]) == [0, 1] and frame["power_mae_mw"].notna().all()
    assert frame["power_mae_mw"].nunique() == 2  # different test plants, different numbers
    for seed in (0, 1):
        assert (tmp_path / "ds" / "splits" / f"seed{seed}" / "statistics.json").is_file()
    assert not list(tmp_path.glob("ds/**/*.partial"))
    record = (tmp_path / "results" / "parallel.md").read_text()
    assert "split seeds [0, 1]" in record and "validation labels: all labels" in record


def test_metrics_are_attributed_to_the_task_with_the_longest_matching_name():
    assert task_of("land_cover_iou_cropland") == "land_cover"
    assert task_of("land_cover_labels_map") == "land_cover_labels"
    assert task_of("power_mae_mw") == "power" and task_of("nothing_here") == ""


def test_study_files_are_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "x", "base": ["experiments/none.yaml"], "variants": {"a": {}}, "seeds": [0]}
        )
    )
    with pytest.raises(ValueError, match="config experiments/none.yaml not found"):
        Study.from_yaml(path)
    path.write_text(yaml.safe_dump({"name": "x", "base": [], "variants": {"a": {}}, "seeds": [0],
                                    "baselines": {"power": "b"}}))  # fmt: skip
    with pytest.raises(ValueError, match="baselines"):
        Study.from_yaml(path)
    path.write_text(yaml.safe_dump({"name": "x", "base": [], "seeds": [0],
                                    "args": ["--model.init_args.loss_weights={power: 2}"],
                                    "variants": {"a": {}, "b": {"model": {"init_args": {
                                        "loss_weights": {"power": 1}}}}}}))  # fmt: skip
    with pytest.raises(UserError, match="variant b sets model.init_args.loss_weights.power, "
                                        "which args set for every run"):  # fmt: skip
        Study.from_yaml(path)


@pytest.mark.parametrize(
    "name",
    ["single_vs_multitask.yaml", "hanna2021_replica.yaml", "power_from_plumes.yaml",
     "label_efficiency.yaml", "label_efficiency_heldout.yaml", "emissions_monitoring.yaml",
     "packed_path.yaml", "plant_year_estimates.yaml", "plant_year_estimates_heldout.yaml",
     "multi_pass.yaml", "multi_pass_heldout.yaml"],
)  # fmt: skip
def test_committed_studies_build_valid_runs(name, tmp_path, monkeypatch):
    """Every study in experiments/studies parses and its first run trains (fast_dev_run)."""
    from plantwatch.training.cli import PlantwatchCLI

    monkeypatch.chdir(REPO)
    study = Study.from_yaml(REPO / "experiments" / "studies" / name)
    # a study compares variants, or one model's estimates over several splits
    assert len(study.seeds) >= 3 and (len(study.variants) >= 2 or len(study.split_seeds) >= 3)
    study.write_variant_configs(tmp_path)
    first: Run = study.runs()[0]
    args = [*study.run_args(first, tmp_path), *tiny_cli_args(tmp_path / "ds", tmp_path),
            "--trainer.fast_dev_run=true", "--data.init_args.label_fraction=1.0"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished


@pytest.fixture(scope="module")
def tiny_benge(tmp_path_factory):
    from plantwatch.data.synthetic.benge import synthesize_benge

    return synthesize_benge(tmp_path_factory.mktemp("benge"), patches=12, size=36, progress=False)


@pytest.mark.parametrize(
    "variant",
    ["s2", "s2_unweighted", "s1", "s2_s1_early", "s2_s1_late", "s2_s1_dem_early",
     "s2_s1_dem_late", "all_early", "all_late"],
)  # fmt: skip
def test_every_benge_fusion_variant_trains_on_synthetic_benge(variant, tiny_benge, tmp_path,
                                                               monkeypatch):  # fmt: skip
    from plantwatch.training.cli import PlantwatchCLI

    monkeypatch.chdir(REPO)
    study = Study.from_yaml(REPO / "experiments" / "studies" / "benge_fusion.yaml")
    assert len(study.seeds) >= 3 and variant in study.variants
    study.write_variant_configs(tmp_path)
    run = next(r for r in study.runs() if r.variant == variant)
    args = [*study.run_args(run, tmp_path), f"--data.init_args.root={tiny_benge}",
            "--data.init_args.source.init_args.patches=12",
            "--data.init_args.source.init_args.size=36", "--data.init_args.batch_size=4",
            "--trainer.fast_dev_run=true", "--trainer.precision=32-true",
            f"--trainer.default_root_dir={tmp_path}"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished
    inputs = set(cli.model.model.inputs) | set(cli.model.model.scalars)
    expected = {"s2": {"image"}, "s2_unweighted": {"image"}, "s1": {"image_s1"}}.get(
        variant, {"image", "image_s1"}
    )
    assert expected <= inputs and ("dem" in inputs) == ("dem" in variant or "all" in variant)
    assert ("climate_zone" in inputs) == variant.startswith("all")
    weighted = cli.model.losses.class_weights.get("land_cover") is not None
    assert weighted == (variant != "s2_unweighted")


def test_label_efficiency_variants_take_their_encoders_from_the_zoo(tmp_path, monkeypatch):
    import torch

    from plantwatch.models.zoo import export_encoder
    from plantwatch.tasks.multitask_task import MultiTaskTask
    from plantwatch.training.cli import PlantwatchCLI

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PLANTWATCH_ZOO", str(tmp_path / "zoo"))
    source = MultiTaskTask(tasks=["land_cover"])
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    torch.save({"state_dict": source.state_dict(), "hyper_parameters": dict(source.hparams)},
               checkpoint)  # fmt: skip
    study = Study.from_yaml(REPO / "experiments" / "studies" / "label_efficiency.yaml")
    names = {v["model"]["init_args"]["encoder_checkpoint"] for v in study.variants.values()
             if isinstance(v, dict) and "model" in v}  # fmt: skip
    assert names == {"simclr-plants", "crossmodal-benge", "benge-fused", "same-plant",
                     "masked-plants"}  # fmt: skip
    for name in names:
        export_encoder(checkpoint, name)
    study.write_variant_configs(tmp_path)
    run = next(r for r in study.runs() if r.variant == "simclr_frozen")
    args = [*study.run_args(run, tmp_path), *tiny_cli_args(tmp_path / "ds", tmp_path),
            "--trainer.fast_dev_run=true", "--data.init_args.label_fraction=1.0"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    encoder = cli.model.model.encoder.state_dict()
    assert all(torch.equal(v, source.model.encoder.state_dict()[k]) for k, v in encoder.items())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished


@pytest.mark.slow  # three runs in their own processes: about 45 s on 2 CPU cores
def test_a_failing_run_is_named_and_the_others_are_tabulated(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    study = yaml.safe_load(write_study(tmp_path).read_text())
    study.update(seeds=[0], baselines={}, metrics=["power_mae_mw"], variants={
        "multitask": study["variants"]["multitask"],
        "broken": {"model": {"init_args": {"tasks": ["no_such_task"]}}},
    })  # fmt: skip
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(study))
    runs, results = tmp_path / "runs", tmp_path / "results"
    with pytest.raises(SystemExit) as stop:
        main(["compare", str(tmp_path / "tiny.yaml"), "--root", str(runs),
              "--results", str(results)])  # fmt: skip
    assert stop.value.code == "1 runs failed: ['broken/frac1/seed0']"
    log = runs / "tiny" / "broken" / "frac1" / "seed0" / "stdout.log"
    assert f"broken/frac1/seed0: FAILED (exit 1, see {log.parent}/stdout.log)" in (
        capsys.readouterr().out
    )
    assert "no_such_task" in log.read_text()
    frame = pd.read_csv(results / "tiny.csv")
    variants = frame["variant"].tolist()
    assert variants.count("multitask") == 1 and "broken" not in variants


def test_runs_at_a_time_share_the_cores(monkeypatch):
    from plantwatch.studies.runner import threads_per_run
    from plantwatch.studies.worker_process import worker_environment

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert threads_per_run(2) == 4
    assert worker_environment(threads_per_run(2))["OMP_NUM_THREADS"] == "4"
    assert threads_per_run(16) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice stays
    assert worker_environment(4)["OMP_NUM_THREADS"] == "3"


@pytest.mark.parametrize(
    "variant", ["single_scene", "reference_early", "reference_difference", "reference_siamese"]
)
def test_every_multi_pass_variant_trains(variant, tmp_path, monkeypatch):
    """Each reading of the plant's reference trains on a dataset whose references exist."""
    from plantwatch.training.cli import PlantwatchCLI

    monkeypatch.chdir(REPO)
    study = Study.from_yaml(REPO / "experiments" / "studies" / "multi_pass.yaml")
    study.write_variant_configs(tmp_path)
    run = next(r for r in study.runs() if r.variant == variant)
    args = [*study.run_args(run, tmp_path),
            *tiny_cli_args(tmp_path / "ds", tmp_path, per_plant=7),
            "--trainer.fast_dev_run=true"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished
    train = cli.datamodule.datasets["train"]
    if variant != "single_scene":
        assert train.modalities["reference"] == cli.model.bands
        assert all(train[i]["has_reference"] for i in range(len(train)))
