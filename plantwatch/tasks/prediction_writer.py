"""`PredictionWriter`: one CSV row per observation and a plume-mask GeoTIFF per image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import rasterio
from lightning.pytorch.callbacks import BasePredictionWriter

from plantwatch import physics
from plantwatch.data.geotiff import write_geotiff

PLUME_THRESHOLD = 0.5


class PredictionWriter(BasePredictionWriter):
    """Write ``predictions.csv`` and ``masks/<obs_id>.tif`` during ``plantwatch predict``.

    The CSV (one per process when predicting on several devices) holds per observation:
    ``power_mw``, ``co2_t_per_h``, ``fuel_prob_<class>`` and ``fuel_pred``, and
    ``plume_pixels`` (pixels with plume probability > 0.5). The masks are uint8 0/1 with
    the georeference (CRS, transform) of the input image.

    Args:
        output_dir: folder for the outputs; None writes to ``<log_dir>/predictions``.
        write_masks: also write the plume-mask GeoTIFFs.
    """

    def __init__(self, output_dir: str | None = None, write_masks: bool = True) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self.write_masks = write_masks
        self._rows: list[dict[str, Any]] = []

    def _folder(self, trainer: L.Trainer) -> Path:
        return (
            Path(self.output_dir)
            if self.output_dir
            else Path(trainer.log_dir or ".") / "predictions"
        )

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._rows = []

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: dict[str, Any],
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        dataset = trainer.predict_dataloaders.dataset if trainer.predict_dataloaders else None
        folder = self._folder(trainer)
        for i, obs_id in enumerate(prediction["obs_id"]):
            row: dict[str, Any] = {"obs_id": obs_id}
            for task, column in (("power", "power_mw"), ("co2", "co2_t_per_h")):
                if task in prediction:
                    row[column] = round(float(prediction[task][i]), 2)
            if "fuel_probability" in prediction:
                probs = prediction["fuel_probability"][i].cpu().numpy()
                row.update(
                    {
                        f"fuel_prob_{n}": round(float(p), 4)
                        for n, p in zip(physics.FUEL_NAMES, probs, strict=True)
                    }
                )
                row["fuel_pred"] = physics.FUEL_NAMES[int(np.argmax(probs))]
            if "plume_probability" in prediction:
                mask = (
                    (prediction["plume_probability"][i] > PLUME_THRESHOLD)
                    .cpu()
                    .numpy()
                    .astype(np.uint8)
                )
                row["plume_pixels"] = int(mask.sum())
                if self.write_masks and dataset is not None:
                    image = dataset.root / dataset.observations.loc[obs_id, "image"]
                    with rasterio.open(image) as src:
                        crs, transform = src.crs, src.transform
                    write_geotiff(folder / "masks" / f"{obs_id}.tif", mask, crs, transform)
            self._rows.append(row)

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = self._folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        name = (
            "predictions.csv"
            if trainer.world_size == 1
            else f"predictions_rank{trainer.global_rank}.csv"
        )
        pd.DataFrame(self._rows).to_csv(folder / name, index=False)
