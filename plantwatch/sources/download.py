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
summary; failures leave the dataset open, and the same command retries them.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import sentinelhub
from oauthlib.oauth2 import OAuth2Error
from pystac_client.exceptions import APIError
from sentinelhub import SentinelHubDownloadClient
from sentinelhub.exceptions import DownloadFailedException
from tqdm.auto import tqdm

import plantwatch
from plantwatch.bands import product as product_bands
from plantwatch.data.format import layout
from plantwatch.data.format.sites import group_sites
from plantwatch.data.format.writer import DatasetWriter
from plantwatch.data.loading.sample import WEATHER_COLUMNS
from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.sources import scene_classes, sentinel, stac
from plantwatch.sources.download_summary import DownloadSummary
from plantwatch.sources.labels import ObservationLabels
from plantwatch.sources.registry import PlantRegistry

PLAN_CSV = "plan.csv"
REQUEST_JSON = "request.json"


@dataclass
class DownloadSettings:
    """What to download (recorded in ``dataset.json``).

    Attributes:
        start, end: date range, ISO dates (UTC), end inclusive.
        product: ``S2L2A`` (12 bands) or ``S2L1C`` (13 bands).
        size_px: patch side in 10 m pixels.
        max_cloud_pct: largest scene cloud cover (Catalog ``eo:cloud_cover``), %.
        s1: also fetch a Sentinel-1 VV/VH companion per acquisition.
        s1_window_days: largest gap between the S2 and the S1 acquisition, days.
        max_no_data_share: largest share of no-data pixels a kept patch may have.
        max_patch_cloud_pct: largest share of the patch under cloud, cirrus or cloud shadow
            by the scene classification (SCL; STAC services), %; None keeps every patch.
        plant_radius_m: radius around the plant of the ``plant_<class>_pct`` shares, m.
        service: ``sentinel-hub``, ``cdse`` (an account), ``earth-search`` or
            ``planetary-computer`` (STAC APIs, no account; S2L2A without Sentinel-1).
        base_url, token_url: overrides of the service's addresses (a STAC service: its API
            URL is ``base_url``).
    """

    start: str
    end: str
    product: str = "S2L2A"
    size_px: int = 120
    max_cloud_pct: float = 20.0
    s1: bool = False
    s1_window_days: float = 3.0
    max_no_data_share: float = 0.05
    max_patch_cloud_pct: float | None = None
    plant_radius_m: float = 500.0
    service: str = "sentinel-hub"
    base_url: str | None = None
    token_url: str | None = None


Service = sentinel.SentinelService | stac.StacService


def resolve(settings: DownloadSettings) -> Service:
    """The service of ``settings``; a STAC service refuses what its catalogue lacks.

    Raises:
        ValueError: an unknown service, or Sentinel-1 or L1C asked of a STAC service.
    """
    if settings.service not in stac.STAC_SERVICES:
        if settings.max_patch_cloud_pct is not None:
            raise ValueError("--max-patch-cloud reads the scene classification, which "
                             "the STAC services give (--service earth-search or "
                             "planetary-computer); Sentinel Hub's cloud masks are not read "
                             "yet")  # fmt: skip
        return sentinel.resolve_service(settings.service, settings.base_url, settings.token_url)
    preset = stac.STAC_SERVICES[settings.service]
    if settings.s1:
        why = (" (Earth Search's GRD bucket is requester-pays: it needs an AWS account)"
               if preset.name == "earth-search" else "")  # fmt: skip
        raise ValueError(f"--service {preset.name}: Sentinel-1 is not read from a STAC "
                         f"catalogue{why}; use --service sentinel-hub or cdse for --s1")
    if settings.product != "S2L2A":
        raise ValueError(f"--service {preset.name} serves L2A only as COGs: use --product "
                         "S2L2A, or --service sentinel-hub or cdse for L1C")  # fmt: skip
    return dataclasses.replace(preset, base_url=settings.base_url or preset.base_url)


def _search(
    service: Service, config: sentinelhub.SHConfig | None, kind: str, patch: sentinel.Patch,
    start: str, end: str, max_cloud_pct: float | None = None,
) -> pd.DataFrame:  # fmt: skip
    if isinstance(service, stac.StacService):
        return stac.search_items(service, patch, start, end, max_cloud_pct)
    return sentinel.search_acquisitions(config, service, kind, patch, start, end, max_cloud_pct)


def _plan(
    registry: PlantRegistry,
    settings: DownloadSettings,
    config: sentinelhub.SHConfig | None,
    service: Service,
    summary: DownloadSummary,
    progress: bool,
) -> pd.DataFrame:
    """One row per observation to fetch: plant, obs_id, S2 (and S1) acquisition time."""
    end = settings.end  # sentinelhub reads a date-only end as the end of that day
    window = pd.Timedelta(days=settings.s1_window_days)
    rows = []
    plants = registry.plants.itertuples()
    for plant in tqdm(plants, total=len(registry), desc="catalog", disable=not progress):
        patch = sentinel.plant_patch(plant.geometry.x, plant.geometry.y, settings.size_px)
        found = _search(
            service, config, settings.product, patch, settings.start, end, settings.max_cloud_pct
        )
        summary.catalog_requests += 1
        if settings.s1 and len(found):
            radar = _search(
                service, config, "S1", patch,
                (pd.Timestamp(settings.start) - window).strftime("%Y-%m-%d"),
                (pd.Timestamp(end) + window).strftime("%Y-%m-%d"),
            )  # fmt: skip
            summary.catalog_requests += 1
            found["s1_datetime"] = [
                _nearest(radar["datetime"], t, window) for t in found["datetime"]
            ]
            summary.no_s1 += int(found["s1_datetime"].isna().sum())
            found = found.dropna(subset=["s1_datetime"])
        if found.empty:
            summary.no_acquisition.append(f"{plant.plant_id} ({plant.name})")
        for acquisition in found.itertuples():
            rows.append(
                {
                    "obs_id": f"{plant.plant_id}_{acquisition.datetime:%Y%m%d}",
                    "plant_id": plant.plant_id,
                    "datetime": acquisition.datetime.isoformat(),
                    "cloud_cover_pct": acquisition.cloud_cover_pct,
                    "scene_id": acquisition.scene_id,
                    "s1_datetime": getattr(acquisition, "s1_datetime", pd.NaT),
                    "items": getattr(acquisition, "items", None),
                }
            )
    columns = ["obs_id", "plant_id", "datetime", "cloud_cover_pct", "scene_id", "s1_datetime",
               "items"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _nearest(times: pd.Series, when: pd.Timestamp, window: pd.Timedelta) -> pd.Timestamp:
    if times.empty:
        return pd.NaT
    gap = (times - when).abs()
    nearest = gap.idxmin()
    return times[nearest] if gap[nearest] <= window else pd.NaT


def _fetch(
    row: pd.Series,
    patch: sentinel.Patch,
    settings: DownloadSettings,
    config: sentinelhub.SHConfig | None,
    service: Service,
    clients: threading.local,
) -> tuple[np.ndarray, np.ndarray | None, float, dict[str, float]]:
    """(S2 DN [C, H, W], S1 dB [2, H, W] or None, largest no-data share, the shares of the
    scene classes where the service gives them: `scene_classes.scl_fractions`) of one row."""
    if isinstance(service, stac.StacService):
        image, no_data, scl = stac.fetch_patch(row["items"], patch, settings.product)
        radius = settings.plant_radius_m / layout.PIXEL_SIZE_M
        return image, None, no_data, scene_classes.scl_fractions(scl, radius)
    if not hasattr(clients, "client"):  # one client per thread: its rate-limit lock is its own
        clients.client = SentinelHubDownloadClient(config=config)
    when = pd.Timestamp(row["datetime"]).to_pydatetime()
    request = sentinel.patch_request(config, service, settings.product, patch, when)
    answer = clients.client.download(request.download_list, max_threads=1)[0]
    image, no_data = sentinel.decode_s2(answer, settings.product)
    radar = None
    if settings.s1:
        when_s1 = pd.Timestamp(row["s1_datetime"]).to_pydatetime()
        request = sentinel.patch_request(config, service, "S1", patch, when_s1)
        radar, no_data_s1 = sentinel.decode_s1(
            clients.client.download(request.download_list, max_threads=1)[0]
        )
        no_data = max(no_data, no_data_s1)
    return image, radar, no_data, {}


def _open_plan(out: Path, request: dict[str, Any]) -> pd.DataFrame | None:
    """The plan of an earlier run of the same request, None if there is none."""
    if not (out / PLAN_CSV).is_file():
        return None
    earlier = json.loads((out / REQUEST_JSON).read_text())
    if earlier != request:
        raise UserError(
            f"{out} holds a download of another request ({out / REQUEST_JSON}); rerun with "
            "the same arguments to resume or repeat it, or choose another folder"
        )
    return pd.read_csv(out / PLAN_CSV, dtype={"obs_id": str, "plant_id": str})


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
    request = {"settings": asdict(settings), "registry": registry.source,
               "plants": sorted(registry.plants["plant_id"])}  # fmt: skip
    if not dry_run and (out / layout.DATASET_JSON).is_file():
        _open_plan(out, request)  # another request into a finished dataset is refused
        summary.complete = summary.already_complete = True
        return summary
    plan = None if dry_run else _open_plan(out, request)
    if plan is None:
        try:
            plan = _plan(registry, settings, config, service, summary, progress)
        except OAuth2Error as error:
            raise UserError(
                f"{service.token_url}: the token request was refused ({error}); check "
                "SH_CLIENT_ID and SH_CLIENT_SECRET (an OAuth client of that service)"
            ) from None
        except (DownloadFailedException, requests.RequestException, APIError) as error:
            reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
            raise UserError(
                f"{service.base_url}: the catalog search failed ({reason}); check the service "
                "address and the network, then rerun"
            ) from None
    else:
        planned = set(plan["plant_id"])
        summary.no_acquisition = [
            f"{p.plant_id} ({p.name})" for p in registry.plants.itertuples()
            if p.plant_id not in planned
        ]  # fmt: skip
    summary.planned = len(plan)
    summary.process_requests = len(plan) * (2 if settings.s1 else 1)
    if dry_run:
        return summary

    info = _dataset_info(settings, service, registry, labels)
    with DatasetWriter(out, info) as writer:
        if not (out / PLAN_CSV).is_file():
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
                    image, radar, no_data, classes = future.result()
                except Exception as error:  # reported per patch; a rerun retries it
                    summary.failed[row["obs_id"]] = f"{type(error).__name__}: {error}"
                    continue
                if no_data > settings.max_no_data_share:
                    summary.skipped_no_data.append(row["obs_id"])
                    continue
                limit = settings.max_patch_cloud_pct
                if classes and limit is not None and scene_classes.obscured_pct(classes) > limit:
                    summary.skipped_cloud.append(row["obs_id"])
                    continue
                plant = plants.loc[row["plant_id"]]
                record = {**_row(row, plant, labels), **classes}
                patch = patches[row["plant_id"]]
                extra = {"image_s1": radar} if radar is not None else None
                writer.add(record, image, f"EPSG:{patch.crs.epsg}", patch.transform,
                           modalities=extra)  # fmt: skip
                summary.fetched_now += 1
        bar.close()
        summary.written = len(writer.rows)
        summary.with_generation = sum(
            r.get("generation_mw") is not None and np.isfinite(r["generation_mw"])
            for r in writer.rows.values()
        )
        if summary.failed or not writer.rows:  # nothing kept: no dataset to finalise
            return summary
        _close(writer, registry, settings, summary, progress)
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
    if labels is None:
        return {**row, "generation_mw": None, "co2_t_per_h": None}
    return {**row, **labels.at(acquisition["plant_id"], plant, when)}


def _close(
    writer: DatasetWriter,
    registry: PlantRegistry,
    settings: DownloadSettings,
    summary: DownloadSummary,
    progress: bool,
) -> None:
    """Declare the weather if every row has it, group overlapping plants, finalise."""
    rows = list(writer.rows.values())
    complete_weather = bool(rows) and all(
        all(r.get(c) is not None and np.isfinite(r[c]) for c in WEATHER_COLUMNS) for r in rows
    )
    writer.info["aux_columns"] = list(WEATHER_COLUMNS) if complete_weather else []
    writer.info["downloaded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    observed = registry.plants[registry.plants["plant_id"].isin({r["plant_id"] for r in rows})]
    side_m = settings.size_px * layout.PIXEL_SIZE_M
    sites = group_sites(observed.geometry.x, observed.geometry.y, side_m, distance_m=0.0)
    site_ids = {p: int(s) for p, s in zip(observed["plant_id"], sites, strict=True)}
    records = [
        {"plant_id": p.plant_id, "name": p.name, "fuel_type": p.fuel_type,
         "capacity_mw": p.capacity_mw, "geometry": p.geometry}
        for p in observed.itertuples()
    ]  # fmt: skip
    writer.close(records, progress=progress, site_ids=site_ids)
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
