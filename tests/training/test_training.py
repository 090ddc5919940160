"""plantwatch fit/test/predict end to end on CPU: resume, TensorBoard records, DDP, predictions."""

import contextlib
import io
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import lightning as L
import pandas as pd
import pytest
import rasterio
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from plantwatch.cli import main
from plantwatch.data.format.splits import read_split
from plantwatch.demo import run_demo
from plantwatch.tasks.multitask_task import MultiTaskTask
from plantwatch.training.cli import fit_and_test
from tests.data.fakes import tiny_cli_args


class RecordEpochs(L.Callback):
    """Records the epochs a run trains (module-level, the tests run in one process)."""

    trained: list[int] = []  # noqa: RUF012

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        RecordEpochs.trained.append(trainer.current_epoch)


class DieAfterFirstEpoch(L.Callback):
    """Simulates a run killed after its first epoch (and that epoch's checkpoint)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("killed")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny demo run (fit, then test in the same process): (run folder, data, CLI args,
    what the demo printed)."""
    base = tmp_path_factory.mktemp("run")
    args = tiny_cli_args(base / "ds", base / "runs")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        metrics = run_demo("quickstart", [*args, "--trainer.max_epochs=2",
                           "--trainer.logger.init_args.version=fit"])  # fmt: skip
    assert "power_mae_mw" in metrics and "plume_iou" in metrics
    return base / "runs" / "quickstart" / "fit", base / "ds", args, printed.getvalue()


def test_the_demo_table_shows_the_baselines_and_the_true_plume_reference(trained_run):
    *_, printed = trained_run
    header = next(line for line in printed.splitlines() if line.startswith("| metric |"))
    assert header.split(" | ")[1:] == [
        "model", "predict-the-mean", "capacity × mean load factor",
        "true-plume reference (reads true masks) |",
    ]  # fmt: skip
    assert "| power MAE (MW) |" in printed


def test_a_killed_run_resumes_from_its_last_checkpoint_as_if_never_killed(tmp_path):
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "runs"), "--trainer.max_epochs=2",
            "--trainer.logger.init_args.version=v"]  # fmt: skip
    with pytest.raises(RuntimeError, match="killed"):
        main(["fit", *args, "--trainer.callbacks+=tests.training.test_training.DieAfterFirstEpoch"])
    last = tmp_path / "runs" / "plantwatch" / "v" / "checkpoints" / "last.ckpt"
    first = torch.load(last, weights_only=True)
    assert first["epoch"] == 0
    RecordEpochs.trained = []
    main(
        [
            "fit",
            *args,
            f"--ckpt_path={last}",
            "--trainer.callbacks+=tests.training.test_training.RecordEpochs",
        ]
    )
    resumed = torch.load(last, weights_only=True)
    assert RecordEpochs.trained == [1]  # only the missing epoch was trained
    assert resumed["global_step"] == 2 * first["global_step"]
    # and trained it as the uninterrupted run does (shuffling, dropout, augmentation)
    main(["fit", *args[:-1], "--trainer.logger.init_args.version=whole"])
    whole = torch.load(last.parents[2] / "whole" / "checkpoints" / "last.ckpt", weights_only=True)
    assert whole["state_dict"].keys() == resumed["state_dict"].keys()
    assert all(torch.equal(whole["state_dict"][k], resumed["state_dict"][k])
               for k in whole["state_dict"])  # fmt: skip


def test_the_run_folder_holds_config_versions_and_checkpoints(trained_run):
    run, *_ = trained_run
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    versions = (run / "versions.txt").read_text()
    assert (
        f"torch=={metadata.version('torch')}" in versions
        and "segmentation-models-pytorch==" in versions
    )


def test_tensorboard_holds_scalars_images_and_hparams(trained_run):
    run, *_ = trained_run
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    expected = {"train/loss_step", "train/loss_plume", "train/weight_power", "val/plume_iou",
                "val/power_mae_mw", "val/fuel_macro_f1", "test/co2_r2",
                "test/plume_iou_both_nonempty"}  # fmt: skip
    assert expected <= scalars, expected - scalars
    images = set(events.Tags()["images"])
    assert {
        "val/examples",
        "val/fuel_confusion",
        "val/power_scatter",
        "val/co2_scatter",
        "test/examples",
    } <= images
    hparams = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in hparams
    from tensorboard.plugins.hparams import plugin_data_pb2

    info = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"])
    recorded = set(info.session_start_info.hparams)
    assert {"tasks", "lr", "data/label_fraction"} <= recorded
    assert not any(name.split("/")[-1].startswith("_") for name in recorded), recorded
    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"])
    names = {m.name.tag for m in experiment.experiment.metric_infos}
    assert {"test/power_mae_mw", "val/plume_iou", "test/loss_co2", "val/selection_loss"} <= names
    assert names <= scalars  # HPARAMS shows each metric's last logged value


def test_a_lightning_checkpoint_initialises_another_models_encoder(trained_run):
    run, *_ = trained_run
    checkpoint = run / "checkpoints" / "last.ckpt"
    fine_tune = MultiTaskTask(
        tasks=["power"], encoder_checkpoint=str(checkpoint), freeze=["model.encoder"]
    )
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    for name, value in fine_tune.model.encoder.state_dict().items():
        torch.testing.assert_close(value, saved[f"model.encoder.{name}"], msg=name)


def test_predict_writes_a_row_per_observation_and_georeferenced_masks(trained_run, tmp_path):
    run, root, args, _ = trained_run
    out = tmp_path / "predictions"
    main(["predict", *args, f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
          f"--prediction_writer.output_dir={out}", "--trainer.logger=false",
          "--prediction_writer.plume_polygons=true"])  # fmt: skip
    rows = pd.read_csv(out / "predictions.csv")
    assert sorted(rows["obs_id"]) == sorted(read_split(root, "test"))
    assert {"power_mw", "co2_t_per_h", "fuel_pred", "fuel_prob_lignite", "plume_pixels"} <= set(
        rows
    )
    assert (rows["power_mw"] >= 0).all() and (rows["co2_t_per_h"] >= 0).all()
    assert {"plant_id", "datetime", "capacity_mw", "power_mw_low", "power_mw_high",
            "co2_t_per_h_low", "co2_t_per_h_high"} <= set(rows)  # fmt: skip
    assert (rows["power_mw_low"] <= rows["power_mw"]).all()
    assert (rows["power_mw"] <= rows["power_mw_high"]).all()
    assert rows["plant_id"].str.startswith("P").all() and rows["capacity_mw"].gt(0).all()
    probs = rows[[c for c in rows if c.startswith("fuel_prob_")]].sum(axis=1)
    assert probs.between(0.99, 1.01).all()
    obs = rows["obs_id"].iloc[0]
    with (
        rasterio.open(out / "plume" / f"{obs}.tif") as mask,
        rasterio.open(root / "images" / f"{obs}.tif") as image,
    ):
        assert (
            mask.crs == image.crs
            and mask.transform == image.transform
            and mask.shape == image.shape
        )
        assert int(mask.read(1).sum()) == rows["plume_pixels"].iloc[0]
    assert (rows["plume_area_m2"] == rows["plume_pixels"] * 100.0).all()  # 10 m pixels
    plants = gpd.read_file(root / "plants.geojson").set_index("plant_id").geometry
    centres = plants[rows["plant_id"]]  # the scenes are centred on their plants
    assert abs(rows["lon"].to_numpy() - centres.x.to_numpy()).max() < 1e-3
    assert abs(rows["lat"].to_numpy() - centres.y.to_numpy()).max() < 1e-3
    polygons = gpd.read_file(out / "plumes.gpkg", layer="plumes")
    assert polygons.crs.to_epsg() == 4326 and set(polygons["task"]) <= {"plume"}
    areas = polygons.groupby("obs_id")["area_m2"].sum()
    predicted = rows.set_index("obs_id")["plume_area_m2"]
    assert set(areas.index) == set(predicted[predicted > 0].index)
    assert (areas - predicted[areas.index]).abs().max() < 1e-6
    everything = tmp_path / "all"
    main(["predict", *args, f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
          f"--prediction_writer.output_dir={everything}", "--trainer.logger=false",
          "--prediction_writer.write_masks=false",
          "--data.init_args.predict_split=null"])  # fmt: skip
    observations = pd.read_csv(root / "observations.csv")
    assert len(pd.read_csv(everything / "predictions.csv")) == len(observations)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_same_seed_and_config_give_identical_test_metrics(tmp_path, workers):
    """CPU, fp32: two runs of one config (augmentation and shuffling included) agree exactly."""
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "runs", num_workers=workers),
            "--trainer.max_epochs=2", "--seed_everything=3"]  # fmt: skip
    first, _ = fit_and_test([*args, "--trainer.logger.init_args.version=a"])
    second, _ = fit_and_test([*args, "--trainer.logger.init_args.version=b"])
    assert first == second and "power_mae_mw" in first
    assert "val_power_mae_mw" in first and "val_selection_loss" in first
    if workers == 0:  # and the seed matters: another one trains another model
        other, _ = fit_and_test([*args, "--seed_everything=4",
                                 "--trainer.logger.init_args.version=c"])  # fmt: skip
        assert other["val_selection_loss"] != first["val_selection_loss"]


def test_the_ddp_preset_trains_two_cpu_processes_on_the_packed_path(tmp_path):
    """The bundled ddp preset on two gloo processes: rank 0 packs the dataset, both
    read it a batch at a time and augment on their device; metrics are synchronised and
    rank 0 logs; prediction reads the packed test split."""
    args = [*("--config", "ddp"), *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"),
            "--trainer.sync_batchnorm=false", "--data.init_args.pin_memory=false"]  # fmt: skip
    command = [str(Path(sys.executable).parent / "plantwatch"), "fit", *args,
               "--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.max_epochs=1",
               "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]  # fmt: skip
    launcher = {
        "LOCAL_RANK",
        "NODE_RANK",
        "GLOBAL_RANK",
        "RANK",
        "WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
    }
    env = {k: v for k, v in os.environ.items() if k not in launcher}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    run = tmp_path / "runs" / "plantwatch" / "version_0"
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    assert "val/plume_iou" in events.Tags()["scalars"] and "val/examples" in events.Tags()["images"]
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "ds" / "packed" / "packed.json").is_file()
    assert "DeviceAugmentation" in (run / "config.yaml").read_text()
    out = tmp_path / "predictions"
    predict = [command[0], "predict", *args, "--trainer.devices=2", "--trainer.strategy=ddp",
               f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "--trainer.logger=false",
               f"--prediction_writer.output_dir={out}",
               "--prediction_writer.plume_polygons=true"]  # fmt: skip
    done = subprocess.run(predict, env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = pd.read_csv(out / "predictions.csv", dtype={"obs_id": str})
    assert sorted(rows["obs_id"]) == sorted(read_split(tmp_path / "ds", "test"))  # merged once
    assert not list(out.glob("predictions_rank*.csv")) and not list(out.glob("plumes_rank*"))
    polygons = gpd.read_file(out / "plumes.gpkg", layer="plumes")
    assert set(polygons["obs_id"]) <= set(rows["obs_id"])
