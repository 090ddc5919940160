"""Sentinel-2 L2A patches from an open STAC catalogue, without an account: Element 84's Earth
Search (public cloud-optimised GeoTIFFs on AWS) or Microsoft's Planetary Computer (COGs on
Azure, read through anonymous SAS tokens that its public SDK signs each URL with when it is
read), searched with `pystac-client`, read with rasterio (only the patch's window of each
band, over HTTP range requests).

Sentinel-1 comes from the Planetary Computer's ``sentinel-1-rtc`` (radiometrically
terrain-corrected γ⁰, linear power, 10 m in UTM; its tokens need the free subscription key
``PC_SDK_SUBSCRIPTION_KEY``), stored in dB like Sentinel Hub's companion but as another
quantity — terrain-flattened γ⁰, not σ⁰ on the ellipsoid (``s1_backscatter`` of the
service, recorded in ``dataset.json``). Earth Search's Sentinel-1 is requester-pays.

A patch is the same ``size`` × ``size`` grid at 10 m in the plant's UTM zone as through
Sentinel Hub (`sentinel.plant_patch`); every band is warped onto it with nearest-neighbour
resampling (20 m and 60 m bands upsampled as Sentinel Hub's ``upsampling: NEAREST`` does,
a tile of a neighbouring UTM zone reprojected). A datatake over several tiles is listed once
per tile: the items of one UTC day are one acquisition, each pixel taken from the first item
that covers it (least cloudy first).

Values are DN = reflectance × 10000 **harmonised** as Sentinel Hub's ``harmonizeValues``
gives them: both catalogues serve ESA's DNs, which from processing baseline 04.00
(``s2:processing_baseline``, 25 January 2022) carry ``BOA_ADD_OFFSET`` = −1000, so 1000 is
subtracted (clipped at 0) — except from an Earth Search item whose
``earthsearch:boa_offset_applied`` is true, which Element 84 harmonised already (the
Planetary Computer documents no such flag: its DNs are ESA's). ``0`` is no data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import rasterio
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from plantwatch.bands import product
from plantwatch.sources.sentinel import Patch, decode_s1

BOA_ADD_OFFSET_DN = -1000  # ESA's offset from processing baseline 04.00 on
# Asset keys of the L2A bands, in plantwatch's band order, and of the scene classification
# (SCL, `scene_classes.py`): Earth Search v1 names them by colour, the Planetary Computer by
# band.
EARTH_SEARCH_ASSETS: dict[str, str] = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
    "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B11": "swir16", "B12": "swir22", "SCL": "scl",
}  # fmt: skip
PLANETARY_COMPUTER_ASSETS: dict[str, str] = {band: band for band in EARTH_SEARCH_ASSETS}
S1_ASSETS: dict[str, str] = {"VV": "vv", "VH": "vh"}  # in `sentinel.S1_BANDS` order
# GDAL's HTTP reading: retry 429/502/503/504, no directory listing of the COG's folder.
GDAL_HTTP = {"GDAL_HTTP_MAX_RETRY": 4, "GDAL_HTTP_RETRY_DELAY": 1,
             "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}  # fmt: skip


@dataclass(frozen=True)
class StacService:
    """An open STAC API: its address, the collection of Sentinel-2 L2A, the asset key of
    each band, whether asset URLs are signed (Planetary Computer) before reading, and its
    Sentinel-1 collection (None: none to read without paying) with the backscatter
    coefficient it holds (Sentinel Hub's names)."""

    name: str
    base_url: str
    collection: str
    assets: tuple[tuple[str, str], ...] = tuple(EARTH_SEARCH_ASSETS.items())
    signed: bool = False
    s1_collection: str | None = None
    s1_backscatter: str | None = None


STAC_SERVICES: dict[str, StacService] = {
    "earth-search": StacService(
        "earth-search", "https://earth-search.aws.element84.com/v1", "sentinel-2-l2a"
    ),
    "planetary-computer": StacService(
        "planetary-computer", "https://planetarycomputer.microsoft.com/api/stac/v1",
        "sentinel-2-l2a", tuple(PLANETARY_COMPUTER_ASSETS.items()), signed=True,
        s1_collection="sentinel-1-rtc", s1_backscatter="GAMMA0_TERRAIN",
    ),
}  # fmt: skip


def offset_dn(properties: dict) -> int:
    """The DN to add to an item's bands to harmonise them (see the module docstring)."""
    baseline = float(properties.get("s2:processing_baseline", "0") or 0)
    applied = bool(properties.get("earthsearch:boa_offset_applied", False))
    return BOA_ADD_OFFSET_DN if baseline >= 4.0 and not applied else 0


def patch_bounds_wgs84(patch: Patch) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the patch in degrees."""
    to_wgs84 = Transformer.from_crs(f"EPSG:{patch.crs.epsg}", "EPSG:4326", always_xy=True)
    west, south, east, north = patch.bbox
    lons, lats = to_wgs84.transform([west, east, west, east], [south, south, north, north])
    return min(lons), min(lats), max(lons), max(lats)


def search_items(
    service: StacService,
    patch: Patch,
    start: str,
    end: str,
    max_cloud_pct: float | None = None,
    kind: str = "S2L2A",
) -> pd.DataFrame:
    """Acquisitions of ``kind`` (``S2L2A``, or ``S1`` from ``service.s1_collection``, not
    filtered by cloud) over the patch between ``start`` and ``end`` (dates, UTC, end
    inclusive), one per UTC day: ``datetime`` (UTC, of the least cloudy item),
    ``cloud_cover_pct`` (NaN for S1), ``scene_id`` and ``items`` (JSON: per item, least
    cloudy first, its ``id``, band ``assets`` hrefs and ``offset_dn``)."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO
    from urllib3.util.retry import Retry

    retry = Retry(total=4, backoff_factor=0.5, status_forcelist=(429, 502, 503, 504),
                  allowed_methods=None)  # the search is a POST: retried too  # fmt: skip
    client = Client.open(service.base_url, stac_io=StacApiIO(max_retries=retry))
    radar = kind == "S1"
    cloudy = max_cloud_pct is not None and not radar
    query = {"eo:cloud_cover": {"lt": max_cloud_pct}} if cloudy else None
    collection = service.s1_collection if radar else service.collection
    keys = S1_ASSETS.items() if radar else service.assets
    search = client.search(collections=[collection], bbox=patch_bounds_wgs84(patch),
                           datetime=f"{start}T00:00:00Z/{end}T23:59:59Z", query=query)  # fmt: skip
    rows = []
    for item in search.items():
        assets = {band: item.assets[key].href for band, key in keys if key in item.assets}
        rows.append({
            "datetime": pd.Timestamp(item.datetime).tz_convert("UTC"),
            "cloud_cover_pct": float(item.properties.get("eo:cloud_cover", np.nan)),
            "scene_id": item.id,
            "item": {"id": item.id, "assets": assets,
                     "offset_dn": 0 if radar else offset_dn(item.properties),
                     "signed": service.signed},
        })  # fmt: skip
    columns = ["datetime", "cloud_cover_pct", "scene_id", "items"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows).sort_values(["cloud_cover_pct", "datetime"], na_position="last")
    frame["day"] = frame["datetime"].dt.strftime("%Y%m%d")
    days = []
    for _, same in frame.groupby("day", sort=True):
        first = same.iloc[0]
        days.append({"datetime": first["datetime"], "cloud_cover_pct": first["cloud_cover_pct"],
                     "scene_id": first["scene_id"],
                     "items": json.dumps(list(same["item"]))})  # fmt: skip
    return pd.DataFrame(days, columns=columns)


def signed_url(href: str) -> str:
    """``href`` with a Planetary Computer SAS token (anonymous, from its public token API
    through its SDK, cached per container until it nears expiry); other URLs unchanged."""
    import planetary_computer

    return planetary_computer.sign_url(href)


def read_band(
    href: str, patch: Patch, signed: bool = False, dtype: type[np.generic] = np.uint16
) -> np.ndarray:
    """One band of one item on the patch grid ([H, W] of ``dtype``, 0 where it has no data);
    ``signed``: sign the URL first (`signed_url`), at read time so no token expires in a
    plan."""
    with rasterio.Env(**GDAL_HTTP), rasterio.open(signed_url(href) if signed else href) as source:
        with WarpedVRT(source, crs=f"EPSG:{patch.crs.epsg}", transform=patch.transform,
                       width=patch.size, height=patch.size, resampling=Resampling.nearest,
                       src_nodata=source.nodata if source.nodata is not None else 0,
                       nodata=0) as warped:  # fmt: skip
            return np.nan_to_num(warped.read(1), nan=0.0).astype(dtype)


def _mosaic(
    items_json: str, bands: Sequence[str], patch: Patch, dtype: type[np.generic]
) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``bands`` [C, H, W] from the items of one acquisition — each pixel from
    the first item that covers it, its ``offset_dn`` added (not to SCL), clipped at 0 — and
    which pixels some item covers [C, H, W].

    Raises:
        KeyError: an item lacks the asset of a band (named in the message).
    """
    image = np.zeros((len(bands), patch.size, patch.size), dtype)
    covered = np.zeros(image.shape, bool)
    for item in json.loads(items_json):
        for index, band in enumerate(bands):
            if band not in item["assets"]:
                raise KeyError(f"STAC item {item['id']} has no asset of band {band}")
            todo = ~covered[index]
            if not todo.any():
                continue
            values = read_band(item["assets"][band], patch, item.get("signed", False), dtype)
            valid = (values > 0) & todo
            offset = 0 if band == "SCL" else item["offset_dn"]  # classes carry no offset
            harmonised = np.clip(values.astype(np.float64) + offset, 0, None)
            image[index][valid] = harmonised[valid].astype(dtype)
            covered[index] |= valid
    return image, covered


def fetch_patch(
    items_json: str, patch: Patch, kind: str = "S2L2A"
) -> tuple[np.ndarray, float, np.ndarray]:
    """The harmonised DN of every band of ``kind`` [C, H, W] (uint16) from the items of one
    acquisition, the share of pixels that no item covers, and the scene classification
    (SCL, uint8 [H, W], 0 where no item covers a pixel).

    Raises:
        KeyError: an item lacks the asset of a band (named in the message).
    """
    image, covered = _mosaic(items_json, (*product(kind).bands, "SCL"), patch, np.uint16)
    no_data = float(1.0 - covered[:-1].all(axis=0).mean())
    return image[:-1], no_data, image[-1].astype(np.uint8)


def fetch_s1(items_json: str, patch: Patch) -> tuple[np.ndarray, float]:
    """VV and VH backscatter in dB (float32 [2, H, W], as `sentinel.decode_s1` gives it)
    from the items of one Sentinel-1 acquisition, and the share of pixels without both.

    Raises:
        KeyError: an item lacks the VV or VH asset.
    """
    linear, covered = _mosaic(items_json, tuple(S1_ASSETS), patch, np.float32)
    mask = covered.all(axis=0).astype(np.float32)
    return decode_s1(np.concatenate([np.moveaxis(linear, 0, 2), mask[..., None]], axis=2))
