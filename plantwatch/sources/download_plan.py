"""The plan of a download: the acquisitions to fetch, searched in the service's catalogue
(``plan.csv`` with the request, ``request.json``, so a rerun does not search again), and the
plan of an **update**: a finished dataset asked again with a later ``end`` (or more plants)
searches only the new period for its plants and the whole period for new plants
(``plan_update.csv`` with ``request_update.json`` until the update is written)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import requests
import sentinelhub
from oauthlib.oauth2 import OAuth2Error
from pystac_client.exceptions import APIError
from sentinelhub.exceptions import DownloadFailedException
from tqdm.auto import tqdm

from plantwatch.data.format import layout
from plantwatch.errors import UserError
from plantwatch.sources import sentinel, stac
from plantwatch.sources.download_settings import DownloadSettings
from plantwatch.sources.download_summary import DownloadSummary
from plantwatch.sources.registry import PlantRegistry

PLAN_CSV = "plan.csv"
REQUEST_JSON = "request.json"
UPDATE_PLAN_CSV = "plan_update.csv"
UPDATE_REQUEST_JSON = "request_update.json"


Service = sentinel.SentinelService | stac.StacService


def resolve(settings: DownloadSettings) -> Service:
    """The service of ``settings``; a STAC service refuses what its catalogue lacks.

    Raises:
        ValueError: an unknown service, or Sentinel-1 or L1C asked of a STAC service.
    """
    if settings.service not in stac.STAC_SERVICES:
        return sentinel.resolve_service(settings.service, settings.base_url, settings.token_url)
    preset = stac.STAC_SERVICES[settings.service]
    if settings.s1 and preset.s1_collection is None:
        raise ValueError(f"--service {preset.name} has no open Sentinel-1 (its GRD bucket is "
                         "requester-pays: it needs an AWS account); use --service "
                         "planetary-computer, sentinel-hub or cdse for --s1")  # fmt: skip
    if settings.s1 and preset.signed and not _subscription_key():
        raise ValueError(f"--service {preset.name} --s1 reads {preset.s1_collection}, whose "
                         "tokens need the Planetary Computer's free subscription key: set "
                         "PC_SDK_SUBSCRIPTION_KEY (planetarycomputer.microsoft.com/account/"
                         "request), or use --service sentinel-hub or cdse")  # fmt: skip
    if settings.product != "S2L2A":
        raise ValueError(f"--service {preset.name} serves L2A only as COGs: use --product "
                         "S2L2A, or --service sentinel-hub or cdse for L1C")  # fmt: skip
    return dataclasses.replace(preset, base_url=settings.base_url or preset.base_url)


def _subscription_key() -> str | None:
    """The Planetary Computer subscription key its SDK signs with (from
    ``PC_SDK_SUBSCRIPTION_KEY`` or its settings file), None without one."""
    import planetary_computer

    return planetary_computer.settings.Settings.get().subscription_key


def _search(
    service: Service, config: sentinelhub.SHConfig | None, kind: str, patch: sentinel.Patch,
    start: str, end: str, max_cloud_pct: float | None = None,
) -> pd.DataFrame:  # fmt: skip
    if isinstance(service, stac.StacService):
        return stac.search_items(service, patch, start, end, max_cloud_pct, kind)
    return sentinel.search_acquisitions(config, service, kind, patch, start, end, max_cloud_pct)


def plan_acquisitions(
    registry: PlantRegistry,
    settings: DownloadSettings,
    config: sentinelhub.SHConfig | None,
    service: Service,
    summary: DownloadSummary,
    progress: bool,
) -> pd.DataFrame:
    """One row per observation to fetch: plant, obs_id, S2 (and S1) acquisition time (and,
    from a STAC service, its items)."""
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
            if "items" in radar:  # a STAC service: what to read of the nearest pass
                found["s1_items"] = found["s1_datetime"].map(
                    dict(zip(radar["datetime"], radar["items"], strict=True))
                )
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
                    "s1_items": getattr(acquisition, "s1_items", None),
                }
            )
    columns = ["obs_id", "plant_id", "datetime", "cloud_cover_pct", "scene_id", "s1_datetime",
               "items", "s1_items"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _nearest(times: pd.Series, when: pd.Timestamp, window: pd.Timedelta) -> pd.Timestamp:
    if times.empty:
        return pd.NaT
    gap = (times - when).abs()
    nearest = gap.idxmin()
    return times[nearest] if gap[nearest] <= window else pd.NaT


def open_plan(out: Path, request: dict[str, Any]) -> pd.DataFrame | None:
    """The plan of an earlier, unfinished run of the same request, None if there is none."""
    if not (out / PLAN_CSV).is_file():
        return None
    earlier = json.loads((out / REQUEST_JSON).read_text())
    if earlier != request:
        raise UserError(
            f"{out} holds a download of another request ({out / REQUEST_JSON}); rerun with "
            "the same arguments to resume or repeat it, or choose another folder"
        )
    return pd.read_csv(out / PLAN_CSV, dtype={"obs_id": str, "plant_id": str})


def request_of(registry: PlantRegistry, settings: DownloadSettings) -> dict[str, Any]:
    """The request a dataset records: the settings, the registry and its plants."""
    return {"settings": asdict(settings), "registry": registry.source,
            "plants": sorted(registry.plants["plant_id"])}  # fmt: skip


def update_period(out: Path, earlier: dict[str, Any], request: dict[str, Any]) -> str:
    """The first day an update searches for the plants of ``earlier`` (the day after its
    end); refuses a request that is no update of it.

    Raises:
        UserError: other settings than ``end``, an earlier ``end``, or plants removed.
    """
    old, new = earlier["settings"], request["settings"]
    differ = [f"{k}: {old.get(k)!r} then, {v!r} now" for k, v in new.items()
              if k != "end" and old.get(k) != v]  # fmt: skip
    removed = sorted(set(earlier["plants"]) - set(request["plants"]))
    if differ or new["end"] < old["end"] or removed:
        why = "; ".join([*differ[:3], *(["an earlier --end"] if new["end"] < old["end"] else []),
                         *([f"plants removed: {removed[:5]}"] if removed else [])])  # fmt: skip
        raise UserError(
            f"{out} holds a download of another request ({why}); an update may only move "
            "--end later or add plants: rerun with the same other arguments, or choose "
            "another folder"
        )
    return (pd.Timestamp(old["end"]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")


def make_plan(
    out: Path,
    registry: PlantRegistry,
    settings: DownloadSettings,
    config: sentinelhub.SHConfig | None,
    service: Service,
    summary: DownloadSummary,
    progress: bool = True,
    dry_run: bool = False,
) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """(the plan, the update it makes or None); (None, None) where the dataset is complete
    for this very request (nothing to do).

    Raises:
        UserError: the catalogue refused the credentials or failed, or ``out`` holds a
            dataset of a request this is no update of.
    """
    request = request_of(registry, settings)
    if not (out / layout.DATASET_JSON).is_file():
        plan = None if dry_run else open_plan(out, request)
        if plan is None:
            plan = _searched(registry, settings, config, service, summary, progress)
        else:
            summary.no_acquisition = _without(registry, plan)
        return plan, None
    earlier = json.loads((out / REQUEST_JSON).read_text())
    if earlier == request:
        return None, None
    start = update_period(out, earlier, request)
    new_plants = sorted(set(request["plants"]) - set(earlier["plants"]))
    update = {"start": start, "end": settings.end, "plants": new_plants}
    pending = out / UPDATE_REQUEST_JSON
    if not dry_run and pending.is_file() and json.loads(pending.read_text()) == request:
        return pd.read_csv(out / UPDATE_PLAN_CSV, dtype={"obs_id": str, "plant_id": str}), update
    old = registry.plants["plant_id"].isin(earlier["plants"])
    parts = [_searched(PlantRegistry(registry.plants[~old], registry.source), settings, config,
                       service, summary, progress)]  # fmt: skip
    if start <= settings.end:
        parts.append(_searched(PlantRegistry(registry.plants[old], registry.source),
                               dataclasses.replace(settings, start=start), config, service,
                               summary, progress))  # fmt: skip
    plan = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    if not dry_run:
        plan.to_csv(out / UPDATE_PLAN_CSV, index=False)
        pending.write_text(json.dumps(request, indent=2) + "\n")
    return plan, update


def _searched(
    registry: PlantRegistry,
    settings: DownloadSettings,
    config: sentinelhub.SHConfig | None,
    service: Service,
    summary: DownloadSummary,
    progress: bool,
) -> pd.DataFrame:
    """`plan_acquisitions`, its failures said in one line."""
    try:
        return plan_acquisitions(registry, settings, config, service, summary, progress)
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


def _without(registry: PlantRegistry, plan: pd.DataFrame) -> list[str]:
    """The plants of ``registry`` the plan has no acquisition of, for the summary."""
    planned = set(plan["plant_id"])
    return [f"{p.plant_id} ({p.name})" for p in registry.plants.itertuples()
            if p.plant_id not in planned]  # fmt: skip


def finish_update(out: Path) -> None:
    """After an update is written: its plan joins ``plan.csv`` and its request becomes the
    dataset's ``request.json``."""
    plans = [pd.read_csv(out / name, dtype={"obs_id": str, "plant_id": str})
             for name in (PLAN_CSV, UPDATE_PLAN_CSV)]  # fmt: skip
    merged = pd.concat(plans, ignore_index=True).drop_duplicates("obs_id")
    (out / PLAN_CSV).write_text(merged.to_csv(index=False))
    (out / UPDATE_REQUEST_JSON).replace(out / REQUEST_JSON)
    (out / UPDATE_PLAN_CSV).unlink()
