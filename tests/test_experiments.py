"""Every YAML file in experiments/ builds what it names and that runs on CPU."""

from pathlib import Path

import lightning as L
import pytest
import yaml
from jsonargparse import ArgumentParser

EXPERIMENTS = Path(__file__).parents[1] / "experiments"
CONFIGS = sorted(EXPERIMENTS.rglob("*.yaml"))


def test_there_are_experiment_configs():
    assert CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(EXPERIMENTS)))
def test_data_configs_instantiate_and_load_a_batch(config, tmp_path):
    parsed = yaml.safe_load(config.read_text())
    assert "data" in parsed, f"{config}: no data section"
    parser = ArgumentParser()
    parser.add_subclass_arguments(L.LightningDataModule, "data")
    # Tiny settings on top of the committed preset, as a second --config would do.
    small = {"root": str(tmp_path / "ds"), "plants": 6, "per_plant": 2, "size": 32,
             "num_workers": 0, "batch_size": 2}  # fmt: skip
    parsed["data"]["init_args"].update(small)
    data = parser.instantiate(parser.parse_object(parsed)).data
    data.prepare_data()
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape[0] == 2 and batch["image"].ndim == 4
