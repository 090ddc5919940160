"""Every YAML file in experiments/ and every bundled config trains: fast_dev_run on CPU with
tiny data on top."""

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from plantwatch.bundled_configs import bundled_names, config_path
from plantwatch.training.cli import PlantwatchCLI, fit_and_test
from tests.data.benge_fake import write_benge_fake
from tests.data.fake_sentinel_hub import download_fake_dataset
from tests.data.fakes import tiny_cli_args
from tests.data.scene_fakes import write_hanna_fake, write_smoke_plume_fake

EXPERIMENTS = Path(__file__).parents[1] / "experiments"
STUDIES = EXPERIMENTS / "studies"  # study files, exercised by tests/studies
BUNDLED = {Path(config_path(name)) for name in bundled_names()}  # plantwatch/configs
CONFIGS = sorted(p for p in EXPERIMENTS.rglob("*.yaml") if STUDIES not in p.parents) + sorted(
    BUNDLED
)
QUICKSTART = Path(config_path("quickstart"))


def _name(config: Path) -> str:
    return config.name if config in BUNDLED else str(config.relative_to(EXPERIMENTS))
# Presets of published datasets: exercised on fakes of their layouts (below), not on the
# synthetic data that tiny_cli_args puts under every other config.
PUBLISHED = {
    EXPERIMENTS / "data" / f"{n}.yaml"
    for n in ("smoke_plumes", "hanna2021", "ben-ge-8k", "downloaded")
}
PUBLISHED |= set((EXPERIMENTS / "benge").glob("*.yaml"))  # ben-ge tasks need ben-ge data
PUBLISHED |= {
    EXPERIMENTS / "data" / "ben-ge-synthetic.yaml",
    EXPERIMENTS / "ssl" / "crossmodal_benge.yaml",
}  # ben-ge layout: tested below


def test_there_are_presets_for_cpu_gpu_ddp_models_and_data():
    names = {_name(p) for p in CONFIGS}
    assert {"quickstart.yaml", "cpu.yaml", "gpu.yaml", "ddp.yaml", "model/multitask.yaml",
            "data/synthetic.yaml"} <= names  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_environment():
    """A DDP trainer exports LOCAL_RANK, MASTER_PORT … which would mislead later launches."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize(
    "config",
    [c for c in CONFIGS if c not in PUBLISHED],
    ids=_name,
)
def test_config_runs_fast_dev_run_on_cpu(config, tmp_path):
    # Presets stack on a config that names the data class, as on the command line.
    args = [
        *("--config", str(config)),
        *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"),
        "--trainer.fast_dev_run=true",
    ]
    if "precision" in config.read_text():
        args.remove("--trainer.precision=32-true")  # keep the preset's precision (bf16-mixed)
    if any(f"plantwatch.tasks.{m}" in config.read_text() for m in ("ssl", "masked_image")):
        args.remove("--model.init_args.figure_examples=2")  # pretraining draws no figures
    if "sync_batchnorm" in config.read_text():
        args.append("--trainer.sync_batchnorm=false")  # SyncBatchNorm needs GPUs
    if "pin_memory: true" in config.read_text():
        args.append("--data.init_args.pin_memory=false")  # pinned memory needs a GPU
    cli = PlantwatchCLI(args=args, run=False)
    try:
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    finally:  # a DDP preset leaves a (one-process) process group behind
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert cli.trainer.state.finished and cli.trainer.global_step == 1


@pytest.mark.parametrize(
    "preset", sorted((EXPERIMENTS / "model").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_model_preset_stacks_on_the_quickstart(preset, tmp_path):
    """As the docs run them: --config quickstart --config experiments/model/<preset>.yaml."""
    args = [
        *("--config", str(QUICKSTART), "--config", str(preset)),
        *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"),
        "--trainer.fast_dev_run=true",
    ]
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished and cli.trainer.global_step == 1


CPU_RUN = ["--trainer.accelerator=cpu", "--trainer.precision=32-true", "--trainer.max_epochs=2",
           "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
           "--trainer.log_every_n_steps=1", "--data.init_args.num_workers=0",
           "--data.init_args.batch_size=4", "--model.init_args.figure_examples=2"]  # fmt: skip


@pytest.mark.parametrize(
    ("preset", "fake"),
    [
        ("smoke_plumes", lambda src: write_smoke_plume_fake(src, sites=6)),
        ("hanna2021", write_hanna_fake),
    ],
)
def test_the_multitask_model_trains_on_a_converted_fake_with_the_benchmark_configs(
    preset, fake, tmp_path
):
    """quickstart + the dataset's preset, as the docs run them; converted on first use."""
    src = fake(tmp_path / "src")
    args = [
        *("--config", str(QUICKSTART)),
        *("--config", str(EXPERIMENTS / "data" / f"{preset}.yaml")),
        f"--data.init_args.root={tmp_path / 'canonical'}",
        f"--data.init_args.source.init_args.src={src}",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        *CPU_RUN,
    ]
    with warnings.catch_warnings():  # the Hanna fake has one image without a label row
        warnings.filterwarnings("ignore", message="1 images without a row or weather")
        metrics, cli = fit_and_test(args)
    assert (tmp_path / "canonical" / "dataset.json").is_file()
    assert cli.trainer.current_epoch == 2 and np.isfinite(metrics["plume_iou"])
    if preset == "hanna2021":
        assert np.isfinite(metrics["power_mae_mw"]) and cli.model.hparams.use_aux


def test_the_multitask_model_trains_on_a_downloaded_dataset(tmp_path):
    """`plantwatch download` (against the fake Sentinel Hub) → quickstart + downloaded.yaml."""
    root = download_fake_dataset(tmp_path / "downloaded", tmp_path)
    args = [
        *("--config", str(QUICKSTART)),
        *("--config", str(EXPERIMENTS / "data" / "downloaded.yaml")),
        f"--data.init_args.root={root}",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        *CPU_RUN,
    ]
    rows = (root / "observations.csv").read_text()
    metrics, cli = fit_and_test(args)
    assert cli.trainer.current_epoch == 2 and not cli.model.hparams.use_aux
    assert cli.datamodule.source is None  # the quickstart's generator is not inherited
    assert json.loads((root / "dataset.json").read_text())["source"] == "download"
    assert (root / "observations.csv").read_text() == rows
    assert np.isfinite(metrics["power_mae_mw"]) and np.isfinite(metrics["fuel_accuracy"])


def test_the_benge_preset_serves_batches_of_every_modality(tmp_path):
    root = write_benge_fake(tmp_path / "benge")
    args = [
        *("--config", str(QUICKSTART)),
        *("--config", str(EXPERIMENTS / "data" / "ben-ge-8k.yaml")),
        f"--data.init_args.root={root}",
        *CPU_RUN,
    ]
    data = PlantwatchCLI(args=args, run=False).datamodule
    data.prepare_data()
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape == (4, 12, 120, 120) and batch["image_s1"].shape == (4, 2, 120, 120)
    assert batch["dem"].shape == (4, 1, 120, 120) and batch["aux"].shape == (4, 4)
    assert batch["lulc_multilabel"].shape == (4, 11) and len(data.datasets["val"]) == 1


@pytest.mark.parametrize("fusion", [None, "early", "late"])
def test_the_benge_tasks_train_on_the_real_patches_through_the_reader(fusion, tmp_path):
    root = write_benge_fake(tmp_path / "benge")
    presets = ["data/ben-ge-8k.yaml", "benge/multitask.yaml"]
    presets += [f"benge/fusion_{fusion}.yaml"] if fusion else []
    args = [
        *("--config", "quickstart"),
        *(arg for preset in presets for arg in ("--config", str(EXPERIMENTS / preset))),
        f"--data.init_args.root={root}",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        *CPU_RUN,
    ]
    metrics, cli = fit_and_test(args)
    assert {"land_cover_miou", "land_cover_labels_macro_f1", "climate_zone_accuracy"} <= set(
        metrics
    )
    assert np.isfinite(metrics["land_cover_pixel_accuracy"])
    assert cli.model.model.fusion == fusion


def test_synthetic_benge_is_generated_on_first_use_and_land_cover_examples_reach_tensorboard(
    tmp_path,
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    presets = ["data/ben-ge-synthetic.yaml", "benge/land_cover.yaml", "benge/class_weights.yaml"]
    args = [
        *("--config", "quickstart"),
        *(arg for preset in presets for arg in ("--config", str(EXPERIMENTS / preset))),
        f"--data.init_args.root={tmp_path / 'benge'}",
        "--data.init_args.source.init_args.patches=16",
        "--data.init_args.source.init_args.size=36",
        "--data.init_args.source.init_args.progress=false",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        *CPU_RUN,
    ]
    metrics, cli = fit_and_test(args)
    assert (tmp_path / "benge" / "synthetic_benge.json").is_file()
    assert np.isfinite(metrics["land_cover_miou"]) and "land_cover_iou_tree_cover" in metrics
    counted = cli.model.losses.class_weights  # on the training split
    assert bool(counted.counted) and counted.land_cover.max() / counted.land_cover.min() <= 30.001
    events = EventAccumulator(cli.trainer.log_dir, size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"val/examples", "test/examples"} <= set(events.Tags()["images"])
    assert "val/land_cover_iou_tree_cover" in events.Tags()["scalars"]


def test_cross_modal_pretraining_runs_on_synthetic_benge_and_logs_its_diagnostics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = [
        "--config", str(EXPERIMENTS / "ssl" / "crossmodal_benge.yaml"),
        f"--data.init_args.root={tmp_path / 'benge'}",
        "--data.init_args.source.init_args.patches=16",
        "--data.init_args.source.init_args.size=36",
        "--data.init_args.source.init_args.progress=false",
        "--model.init_args.view_size=32", "--model.init_args.knn_k=1",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        *CPU_RUN,
    ]  # fmt: skip
    args.remove("--model.init_args.figure_examples=2")  # no figures in pretraining
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    events = EventAccumulator(cli.trainer.log_dir, size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss_epoch", "val/pair_accuracy", "val/embedding_std"} <= tags
    assert "val/knn_accuracy" in tags  # the climate zone of other acquisitions
