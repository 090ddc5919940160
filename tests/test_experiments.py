"""Every YAML file in experiments/ trains: fast_dev_run on CPU with tiny data on top."""

import os
from pathlib import Path

import pytest
import torch

from plantwatch.training.cli import PlantwatchCLI
from tests.data.fakes import tiny_cli_args

EXPERIMENTS = Path(__file__).parents[1] / "experiments"
STUDIES = EXPERIMENTS / "studies"  # study files, exercised by tests/studies
CONFIGS = sorted(p for p in EXPERIMENTS.rglob("*.yaml") if STUDIES not in p.parents)


def test_there_are_presets_for_cpu_gpu_ddp_models_and_data():
    names = {str(p.relative_to(EXPERIMENTS)) for p in CONFIGS}
    assert {"quickstart.yaml", "trainer/cpu.yaml", "trainer/gpu.yaml", "trainer/ddp.yaml",
            "model/multitask.yaml", "data/synthetic.yaml"} <= names  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_environment():
    """A DDP trainer exports LOCAL_RANK, MASTER_PORT … which would mislead later launches."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(EXPERIMENTS)))
def test_config_runs_fast_dev_run_on_cpu(config, tmp_path):
    # Presets stack on a config that names the data class, as on the command line.
    args = [
        *("--config", str(config)),
        *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"),
        "--trainer.fast_dev_run=true",
    ]
    if "precision" in config.read_text():
        args.remove("--trainer.precision=32-true")  # keep the preset's precision (bf16-mixed)
    if "sync_batchnorm" in config.read_text():
        args.append("--trainer.sync_batchnorm=false")  # SyncBatchNorm needs GPUs
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
    """As the README runs them: --config quickstart.yaml --config model/<preset>.yaml."""
    args = [
        *("--config", str(EXPERIMENTS / "quickstart.yaml"), "--config", str(preset)),
        *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"),
        "--trainer.fast_dev_run=true",
    ]
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
