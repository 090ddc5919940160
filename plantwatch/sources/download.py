"""`plantwatch download`: a plant registry and a date range → a canonical observation dataset.

1. **Plan**: for every plant, the Catalog API (Sentinel Hub, CDSE) or a STAC API (Earth
   Search, no account: `stac.py`) lists the acquisitions over its patch in the date range
   below the maximum cloud cover (one per UTC day); with ``s1`` each gets the nearest
   Sentinel-1 acquisition within ``s1_window_days``. The plan is kept in ``<out>/plan.csv``
   with the request (``request.json``), so a rerun does not search again.
2. **Labels**: fuel and capacity from the registry; generation (MW) from ENTSO-E 16.1.A
   files at the acquisition time; CO₂ (t/h) from the plant-year's reported intensity or the
   fuel's emission factor; weather from a CSV.
3. **Fetch**: a bounded pool of threads runs the Process API requests (retries on 429 and
   5xx in the client), or reads the patch's window of each band from the STAC items' COGs;
   each finished patch goes through the canonical writer at once
   (atomic files, journal), so a killed download resumes where it stopped and never
   refetches a finished patch. A patch with too many no-data pixels is skipped.
4. **Close**: when every planned patch is done, the writer finalises splits (plants whose
   patches overlap share a split) and statistics and writes ``dataset.json`` with the
   request, the service, versions and time — never the credentials.

A plant with no clear acquisition, skipped patches and failed requests are listed in the
summary; failures leave the dataset open, and the same command retries them. The same
request again is a no-op; a later ``end`` (or more plants) **updates** the finished dataset:
only the new period (and the new plants) is searched and fetched, nothing it holds is
fetched again or moves split (`download_plan.py`, `data/format/dataset_update.py`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sentinelhub
from sentinelhub import SentinelHubDownloadClient
from tqdm.auto import tqdm

import plantwatch
from plantwatch.bands import product as product_bands
from plantwatch.data.format import layout, scene_classes
from plantwatch.data.format.dataset_update import close_update
from plantwatch.data.format.sites import group_sites
from plantwatch.data.format.writer import DatasetWriter
from plantwatch.data.loading.sample import WEATHER_COLUMNS
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.tables import read_json
from plantwatch.sources import sentinel, stac
from plantwatch.sources.download_plan import (
    PLAN_CSV,
    REQUEST_JSON,
    Service,
    finish_update,
    make_plan,
    request_of,
    resolve,
)
from plantwatch.sources.download_settings import DownloadSettings
from plantwatch.sources.download_summary import DownloadSummary
from plantwatch.sources.labels import ObservationLabels
from plantwatch.sources.registry import PlantRegistry


def _fetch(
    row: pd.Series,
    patch: sentinel.Patch,
    settings: DownloadSettings,
    config: sentinelhub.SHConfig | None,
    service: Service,
    clients: threading.local,
) -> tuple[np.ndarray, np.ndarray | None, float, np.ndarray]:
    """(S2 DN [C, H, W], S1 dB [2, H, W] or None, largest no-data share, the class map
    uint8 [H, W]: `sentinel.decode_s2`) of one row."""
    if isinstance(service, stac.StacService):
        image, no_data, scl = stac.fetch_patch(row["items"], patch, settings.product)
        if not settings.s1:
            return image, None, no_data, scl
        radar, no_data_s1 = stac.fetch_s1(row["s1_items"], patch)
        return image, radar, max(no_data, no_data_s1), scl
    if not hasattr(clients, "client"):  # one client per thread: its rate-limit lock is its own
        clients.client = SentinelHubDownloadClient(config=config)
    when = pd.Timestamp(row["datetime"]).to_pydatetime()
    request = sentinel.patch_request(config, service, settings.product, patch, when)
    answer = clients.client.download(request.download_list, max_threads=1)[0]
    image, no_data, scl = sentinel.decode_s2(answer, settings.product)
    radar = None
    if settings.s1:
        when_s1 = pd.Timestamp(row["s1_datetime"]).to_pydatetime()
        request = sentinel.patch_request(config, service, "S1", patch, when_s1)
        radar, no_data_s1 = sentinel.decode_s1(
            clients.client.download(request.download_list, max_threads=1)[0]
        )
        no_data = max(no_data, no_data_s1)
    return image, radar, no_data, scl


def download_dataset(
    registry: PlantRegistry,
    out: str | Path,
    settings: DownloadSettings,
    labels: ObservationLabels | None = None,
    max_threads: int = 4,
    dry_run: bool = False,
    progress: bool = True,
    config: sentinelhub.SHConfig | None = None,
) -> DownloadSummary:
    """Plan, fetch and write the dataset (see the module docstring); returns the summary.

    Args:
        registry: the plants.
        out: dataset folder (new, or the folder of an interrupted run of the same request).
        settings: what to fetch.
        labels: generation, CO₂ and weather sources; None for images with fuel and capacity
            only.
        max_threads: parallel Process API requests.
        dry_run: search the catalog and report the plan without fetching or writing.
        config: a sentinelhub configuration (default: from ``settings`` and the environment).
    """
    out = Path(out)
    service = resolve(settings)
    if isinstance(service, sentinel.SentinelService):
        config = config or sentinel.make_config(service)
    summary = DownloadSummary(plants=len(registry))
    plan, update = make_plan(out, registry, settings, config, service, summary, progress,
                             dry_run)  # fmt: skip
    if plan is None:  # complete for this very request: nothing to do
        summary.complete = summary.already_complete = True
        return summary
    summary.update = update
    summary.planned = len(plan)
    summary.process_requests = len(plan) * (2 if settings.s1 else 1)
    if dry_run:
        return summary

    if update is None:
        info = _dataset_info(settings, service, registry, labels)
    else:  # the dataset's record, asked for the new period
        info = {**read_json(out / layout.DATASET_JSON, "a dataset record"),
                "request": asdict(settings), "registry": registry.source}  # fmt: skip
    with DatasetWriter(out, info, update=update is not None) as writer:
        if update is None and not (out / PLAN_CSV).is_file():
            request = request_of(registry, settings)
            write_text_atomic(out / REQUEST_JSON, json.dumps(request, indent=2) + "\n")
            write_text_atomic(out / PLAN_CSV, plan.to_csv(index=False))
        plants = registry.plants.set_index("plant_id")
        todo = plan[[not writer.has(i) for i in plan["obs_id"]]]
        summary.process_requests = len(todo) * (2 if settings.s1 else 1)
        patches = {
            p: sentinel.plant_patch(plants.at[p, "geometry"].x, plants.at[p, "geometry"].y,
                                    settings.size_px)
            for p in todo["plant_id"].unique()
        }  # fmt: skip
        clients = threading.local()
        bar = tqdm(total=len(todo), desc="patches", unit="patch", disable=not progress)
        with ThreadPoolExecutor(max_workers=max_threads) as pool:
            futures = {
                pool.submit(_fetch, row, patches[row["plant_id"]], settings, config, service,
                            clients): row
                for _, row in todo.iterrows()
            }  # fmt: skip
            for future in as_completed(futures):
                row = futures[future]
                bar.update()
                try:
                    image, radar, no_data, classes_map = future.result()
                except Exception as error:  # reported per patch; a rerun retries it
                    summary.failed[row["obs_id"]] = f"{type(error).__name__}: {error}"
                    continue
                if no_data > settings.max_no_data_share:
                    summary.skipped_no_data.append(row["obs_id"])
                    continue
                key = sentinel.CLASS_MAP_OF[settings.product]
                classes = scene_classes.class_fractions(
                    classes_map, key, settings.plant_radius_m / layout.PIXEL_SIZE_M)  # fmt: skip
                limit = settings.max_patch_cloud_pct
                if classes and limit is not None and scene_classes.obscured_pct(classes) > limit:
                    summary.skipped_cloud.append(row["obs_id"])
                    continue
                plant = plants.loc[row["plant_id"]]
                record = {**_row(row, plant, labels), **classes}
                patch = patches[row["plant_id"]]
                extra = {k: a for k, a in (("image_s1", radar), (key, classes_map))
                         if a is not None}  # fmt: skip
                writer.add(record, image, f"EPSG:{patch.crs.epsg}", patch.transform,
                           modalities=extra)  # fmt: skip
                summary.fetched_now += 1
        bar.close()
        summary.written = len(writer.rows)
        summary.with_generation = sum(
            r.get("generation_mw") is not None and np.isfinite(r["generation_mw"])
            for r in writer.rows.values()
        )
        if summary.failed or not (writer.rows or writer.existing):  # nothing kept: no dataset
            return summary
        _close(writer, registry, settings, summary, progress, update)
        if update is not None:
            finish_update(out)
        return summary


def _row(acquisition: pd.Series, plant: pd.Series, labels: ObservationLabels | None) -> dict:
    """The observations.csv row of one acquisition with its labels."""
    when = pd.Timestamp(acquisition["datetime"])
    row: dict[str, Any] = {
        "obs_id": acquisition["obs_id"],
        "plant_id": acquisition["plant_id"],
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fuel_type": plant["fuel_type"],
        "capacity_mw": float(plant["capacity_mw"]),
        "cloud_cover_pct": acquisition["cloud_cover_pct"],
        "scene_id": acquisition["scene_id"],
    }
    if pd.notna(acquisition.get("s1_datetime")):  # the radar companion's pass
        row["s1_datetime"] = pd.Timestamp(acquisition["s1_datetime"]).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    if labels is None:
        return {**row, "generation_mw": None, "co2_t_per_h": None}
    return {**row, **labels.at(acquisition["plant_id"], plant, when)}


def _close(
    writer: DatasetWriter,
    registry: PlantRegistry,
    settings: DownloadSettings,
    summary: DownloadSummary,
    progress: bool,
    update: dict[str, Any] | None = None,
) -> None:
    """Declare the weather if every row has it, group overlapping plants, finalise (or
    finish the update: `dataset_update.close_update`)."""
    rows = list(writer.rows.values())
    complete_weather = bool(rows) and all(
        all(r.get(c) is not None and np.isfinite(r[c]) for c in WEATHER_COLUMNS) for r in rows
    ) and (not writer.existing or writer.info.get("aux_columns") == list(WEATHER_COLUMNS))
    writer.info["aux_columns"] = list(WEATHER_COLUMNS) if complete_weather else []
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if update is None:
        writer.info["downloaded_at"] = now
    plant_ids = {r["plant_id"] for r in [*rows, *writer.existing.values()]}
    observed = registry.plants[registry.plants["plant_id"].isin(plant_ids)]
    side_m = settings.size_px * layout.PIXEL_SIZE_M
    sites = group_sites(observed.geometry.x, observed.geometry.y, side_m, distance_m=0.0)
    site_ids = {p: int(s) for p, s in zip(observed["plant_id"], sites, strict=True)}
    records = [
        {"plant_id": p.plant_id, "name": p.name, "fuel_type": p.fuel_type,
         "capacity_mw": p.capacity_mw, "geometry": p.geometry}
        for p in observed.itertuples()
    ]  # fmt: skip
    if update is None:
        writer.close(records, progress=progress, site_ids=site_ids)
    else:
        versions = {"plantwatch": plantwatch.__version__}
        close_update(writer, records, {**update, "at": now, "versions": versions}, site_ids,
                     progress)  # fmt: skip
    summary.complete = True


def _dataset_info(
    settings: DownloadSettings,
    service: Service,
    registry: PlantRegistry,
    labels: ObservationLabels | None,
) -> dict[str, Any]:
    """The ``dataset.json`` record of a download (no credentials)."""
    info: dict[str, Any] = {
        "format": layout.FORMAT_NAME,
        "format_version": layout.FORMAT_VERSION,
        "source": "download",
        "request": asdict(settings),
        "service": asdict(service),
        "registry": registry.source,
        "versions": {"plantwatch": plantwatch.__version__,
                     "sentinelhub": sentinelhub.__version__,
                     "pystac-client": version("pystac-client")},
        "product": settings.product,
        "bands": list(product_bands(settings.product).bands),
        "reflectance_scale": layout.REFLECTANCE_SCALE,
        "pixel_size_m": layout.PIXEL_SIZE_M,
        "harmonize_values": True,
        "boa_add_offset_dn": 0,
        "labels": labels.describe() if labels is not None else None,
    }  # fmt: skip
    if settings.s1:
        info["modalities"] = {"image_s1": list(sentinel.S1_BANDS)}
        info["s1_backscatter"] = service.s1_backscatter  # σ⁰ on the ellipsoid, or RTC's γ⁰
    key = sentinel.CLASS_MAP_OF[settings.product]  # L2A: scene classes; L1C: cloud mask
    info["class_maps"] = {key: list(scene_classes.CLASS_MAPS[key].class_names)}
    return info


def plan_lines(summary: DownloadSummary, settings: DownloadSettings) -> Sequence[str]:
    """What a dry run prints."""
    return [
        f"dry run: {summary.planned} {settings.product} patches of {settings.size_px} px "
        f"for {summary.plants} plants, {settings.start}..{settings.end}, cloud < "
        f"{settings.max_cloud_pct} %" + (" with Sentinel-1" if settings.s1 else ""),
        f"would send {summary.process_requests} process requests "
        f"(catalog searches done: {summary.catalog_requests})",
        *(f"no clear acquisition: {p}" for p in summary.no_acquisition),
    ]
