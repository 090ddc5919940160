"""`PredictionWriter`: one CSV row per observation and a GeoTIFF per image and dense task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
from rasterio.transform import Affine

from plantwatch.data.format.geotiff import write_geotiff
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.ids import checked_id
from plantwatch.task_registry import TASKS
from plantwatch.training.prediction_geometry import (
    PLUMES_GPKG,
    centre_lon_lat,
    merge_rank_polygons,
    plume_polygons,
    polygons_frame,
    write_polygons,
)

PLUME_THRESHOLD = 0.5
PREDICTIONS_CSV = "predictions.csv"


def merge_rank_files(folder: Path) -> Path:
    """Merge the per-process ``predictions_rank<k>.csv`` of a multi-device run into
    ``predictions.csv``: one row per observation (the distributed sampler repeats a few to
    even out the ranks), sorted by ``obs_id``; the rank files are removed."""
    parts = sorted(folder.glob("predictions_rank*.csv"))
    merged = pd.concat([pd.read_csv(p, dtype={"obs_id": str, "plant_id": str}) for p in parts])
    merged = merged.drop_duplicates("obs_id").sort_values("obs_id", kind="stable")
    write_text_atomic(folder / PREDICTIONS_CSV, merged.to_csv(index=False))
    for part in parts:
        part.unlink()
    return folder / PREDICTIONS_CSV


class PredictionWriter(L.pytorch.callbacks.BasePredictionWriter):
    """Write ``predictions.csv`` and ``<task>/<obs_id>.tif`` during ``plantwatch predict``.

    The CSV (written per process on several devices, then merged by rank 0) holds per
    observation its ``obs_id``, ``plant_id``, ``datetime`` (UTC), ``capacity_mw`` (empty
    where unknown) and ``lon``/``lat`` (the image centre, degrees WGS 84, where the sample is
    georeferenced), and for each task the model predicts: regression values as ``<task>_<unit>``
    (``power_mw``, ``co2_t_per_h``) with the conformal interval's ``_low``/``_high`` bounds
    (infinite where the validation split was too small for the level); class probabilities
    ``<task>_prob_<class>`` and ``<task>_pred``;
    multilabel probabilities; class fractions ``<task>_frac_<class>``; for a binary
    segmentation ``<task>_pixels`` (pixels with probability > 0.5) and their area
    ``<task>_area_m2``. Segmentations are
    written as uint8 GeoTIFFs (0/1, or class index) with the CRS and transform the sample
    carries; with ``plume_polygons`` the binary masks are also polygons in ``plumes.gpkg``
    (layer ``plumes``, WGS 84: ``obs_id``, ``plant_id``, ``datetime``, ``task``, ``area_m2``
    per connected area), for a GIS.

    Args:
        output_dir: folder for the outputs; None writes to ``<log_dir>/predictions``.
        write_masks: also write the segmentation GeoTIFFs.
        plume_polygons: also write ``plumes.gpkg``.
    """

    def __init__(
        self, output_dir: str | None = None, write_masks: bool = True, plume_polygons: bool = False
    ) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self.write_masks = write_masks
        self.plume_polygons = plume_polygons
        self._rows: list[dict[str, Any]] = []
        self._polygons: list[dict[str, Any]] = []
        self.written: Path | None = None  # predictions.csv once written (rank 0)

    def _folder(self, trainer: L.Trainer) -> Path:
        if self.output_dir:
            return Path(self.output_dir)
        return Path(trainer.log_dir or ".") / "predictions"

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._rows, self._polygons = [], []

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
        folder = self._folder(trainer)
        specs = [TASKS[name] for name in prediction if name in TASKS]
        for i, obs_id in enumerate(prediction["obs_id"]):
            row: dict[str, Any] = {"obs_id": obs_id}
            for key in ("plant_id", "datetime"):
                if key in prediction:
                    row[key] = prediction[key][i]
            if "capacity" in prediction:
                capacity = float(prediction["capacity"][i])
                row["capacity_mw"] = capacity if capacity > 0 else None
            crs = prediction["crs"][i] if "crs" in prediction else ""
            transform = Affine(*prediction["transform"][i].tolist()) if crs else None
            if transform is not None:
                height, width = prediction["image_size"]
                row["lon"], row["lat"] = centre_lon_lat(transform, crs, height, width)
            for spec in specs:
                value = prediction[spec.name][i].cpu().numpy()
                if spec.kind == "regression":
                    column = f"{spec.name}_{spec.unit_tag}".rstrip("_")
                    row[column] = round(float(value), 2)
                    for end in ("low", "high"):
                        if f"{spec.name}_{end}" in prediction:
                            bound = float(prediction[f"{spec.name}_{end}"][i])
                            row[f"{column}_{end}"] = round(bound, 2)
                elif spec.kind in ("multiclass", "multilabel", "composition"):
                    share = "frac" if spec.kind == "composition" else "prob"
                    row.update({f"{spec.name}_{share}_{c}": round(float(p), 4)
                                for c, p in zip(spec.classes, value, strict=True)})  # fmt: skip
                    if spec.kind == "multiclass":
                        row[f"{spec.name}_pred"] = spec.classes[int(np.argmax(value))]
                else:
                    if spec.kind == "binary_segmentation":
                        raster = (value > PLUME_THRESHOLD).astype(np.uint8)
                        row[f"{spec.name}_pixels"] = int(raster.sum())
                        if transform is not None:  # pixel area in the CRS's units (UTM: m²)
                            pixel = abs(transform.a * transform.e)
                            row[f"{spec.name}_area_m2"] = round(int(raster.sum()) * pixel, 1)
                        if self.plume_polygons and transform is not None:
                            keys = {k: row.get(k) for k in ("obs_id", "plant_id", "datetime")}
                            for area in plume_polygons(raster, transform, crs):
                                self._polygons.append({**keys, "task": spec.name, **area})
                    else:
                        raster = value.argmax(axis=0).astype(np.uint8)
                    if self.write_masks and transform is not None:
                        name = checked_id(obs_id, "obs_id", "the predicted dataset")
                        write_geotiff(folder / spec.name / f"{name}.tif", raster, crs, transform)
            self._rows.append(row)

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = self._folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame(self._rows).to_csv(index=False)
        polygons = polygons_frame(self._polygons) if self.plume_polygons else None
        if trainer.world_size == 1:
            write_text_atomic(folder / PREDICTIONS_CSV, table)
            if polygons is not None:
                write_polygons(polygons, folder / PLUMES_GPKG)
            self.written = folder / PREDICTIONS_CSV
            return
        write_text_atomic(folder / f"predictions_rank{trainer.global_rank}.csv", table)
        if polygons is not None:
            write_polygons(polygons, folder / f"plumes_rank{trainer.global_rank}.gpkg")
        trainer.strategy.barrier("predictions written")
        if trainer.is_global_zero:
            self.written = merge_rank_files(folder)
            if polygons is not None:
                merge_rank_polygons(folder)
