"""Generators of tiny fake datasets for the tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from plantwatch.data.synthetic.power_plants import synthesize_power_plants


def make_dataset(root: Path, **overrides) -> Path:
    """A small synthetic dataset at ``root`` (defaults: 12 plants × 4 scenes of 48 px)."""
    settings = {"plants": 12, "per_plant": 4, "size": 48, "mask_fraction": 0.5, "seed": 7}
    settings.update(overrides)
    return synthesize_power_plants(root, progress=False, **settings)


def copy_dataset(source: Path, target: Path) -> Path:
    """A writable copy of a dataset, for tests that damage it."""
    shutil.copytree(source, target)
    return target


def edit_observations(root: Path, edit) -> None:
    """Apply ``edit(frame) -> frame`` to ``root/observations.csv``."""
    path = root / "observations.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False)


def set_cells(root: Path, row: int, **values: str) -> None:
    """Overwrite cells of one row of ``root/observations.csv`` (column=value as text)."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        for column, value in values.items():
            frame.loc[row, column] = value
        return frame

    edit_observations(root, edit)


def tiny_cli_args(root: Path, runs: Path, **data: object) -> list[str]:
    """LightningCLI arguments for a seconds-long CPU run on a tiny synthetic dataset."""
    generator = {"plants": 8, "per_plant": 3, "size": 32, "mask_fraction": 0.7, "seed": 5,
                 "progress": False}  # fmt: skip
    generator.update({k: data.pop(k) for k in list(data) if k in generator})
    settings = {"root": str(root), "batch_size": 4, "num_workers": 0, **data}
    return [
        "--data=plantwatch.data.loading.datamodule.DataModule",
        *(f"--data.init_args.{k}={v}" for k, v in settings.items()),
        "--data.init_args.source=plantwatch.data.synthetic.source.SyntheticPlants",
        *(f"--data.init_args.source.init_args.{k}={v}" for k, v in generator.items()),
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.precision=32-true",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.log_every_n_steps=1", f"--trainer.logger.init_args.save_dir={runs}",
        f"--trainer.default_root_dir={runs}",
        "--model.init_args.figure_examples=2",
    ]  # fmt: skip


def with_scene_classes(root: Path) -> Path:
    """Give every observation of the canonical dataset at ``root`` a scene classification
    (``scl/<obs_id>.tif``): vegetation (4), with thick cloud (9) over the top-left quarter;
    declared in ``dataset.json`` as the class map ``scl``."""
    import json

    import numpy as np

    from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
    from plantwatch.data.format.scene_classes import CLASS_MAPS

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        paths = []
        for obs_id, image in zip(frame["obs_id"], frame["image"], strict=True):
            _, profile = read_geotiff(root / image)
            scl = np.full((profile["height"], profile["width"]), 4, np.uint8)
            scl[: profile["height"] // 2, : profile["width"] // 2] = 9
            write_geotiff(root / "scl" / f"{obs_id}.tif", scl, profile["crs"],
                          profile["transform"])  # fmt: skip
            paths.append(f"scl/{obs_id}.tif")
        return frame.assign(scl=paths)

    edit_observations(root, edit)
    info = json.loads((root / "dataset.json").read_text())
    info["class_maps"] = {"scl": list(CLASS_MAPS["scl"].class_names)}
    (root / "dataset.json").write_text(json.dumps(info, indent=2))
    return root
