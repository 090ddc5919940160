"""Sentinel-2 (and Sentinel-1) patches around plants through the `sentinelhub` client.

Sentinel Hub and the Copernicus Data Space Ecosystem (CDSE) serve the same Catalog and
Process APIs at different addresses: `SentinelService` holds the base and token URLs, with
presets for both (``SERVICES``). Credentials come from ``SH_CLIENT_ID`` /
``SH_CLIENT_SECRET`` or from an existing sentinelhub configuration file; they are passed to
the client only, never printed, logged or stored, and no configuration file is written.

A patch is a square of ``size`` pixels at 10 m in the plant's UTM zone, centred on the plant
(snapped to the 10 m grid). Sentinel-2 comes as reflectance × 10000 in uint16 with
``harmonizeValues`` on (no BOA offset left), all bands resampled to 10 m; Sentinel-1 GRD
(IW, VV and VH) as backscatter σ⁰ in dB, float32.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rasterio.transform import Affine, from_origin
from sentinelhub import (
    CRS,
    BBox,
    DataCollection,
    MimeType,
    MosaickingOrder,
    SentinelHubCatalog,
    SentinelHubRequest,
    SHConfig,
)

from plantwatch.bands import product
from plantwatch.data.format.layout import PIXEL_SIZE_M

EVALSCRIPTS = Path(__file__).resolve().parent / "evalscripts"
S1_BANDS: tuple[str, ...] = ("VV", "VH")
# Sentinel Hub collection and evalscript per product; S1 is the companion of any S2 product.
COLLECTIONS: dict[str, tuple[DataCollection, str]] = {
    "S2L2A": (DataCollection.SENTINEL2_L2A, "s2l2a.js"),
    "S2L1C": (DataCollection.SENTINEL2_L1C, "s2l1c.js"),
    "S1": (DataCollection.SENTINEL1_IW, "s1.js"),
}


@dataclass(frozen=True)
class SentinelService:
    """Where the Sentinel Hub APIs are served: base URL and OAuth token URL; the
    backscatter coefficient its Sentinel-1 companions are asked for."""

    name: str
    base_url: str
    token_url: str
    s1_backscatter: str = "SIGMA0_ELLIPSOID"


SERVICES: dict[str, SentinelService] = {
    "sentinel-hub": SentinelService(
        "sentinel-hub",
        "https://services.sentinel-hub.com",
        "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token",
    ),
    "cdse": SentinelService(
        "cdse",
        "https://sh.dataspace.copernicus.eu",
        "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token",
    ),
}


def resolve_service(
    name: str, base_url: str | None = None, token_url: str | None = None
) -> SentinelService:
    """The preset ``name`` with ``base_url``/``token_url`` overriding its addresses."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose one of {list(SERVICES)}")
    preset = SERVICES[name]
    return SentinelService(name, base_url or preset.base_url, token_url or preset.token_url)


def credentials() -> tuple[str, str]:
    """(client id, client secret) from ``SH_CLIENT_ID``/``SH_CLIENT_SECRET``, else from an
    existing sentinelhub configuration file (read, never created)."""
    client_id = os.environ.get("SH_CLIENT_ID", "")
    secret = os.environ.get("SH_CLIENT_SECRET", "")
    if client_id and secret:
        return client_id, secret
    location = Path(SHConfig.get_config_location())
    if location.is_file():
        stored = SHConfig.load()
        if stored.sh_client_id and stored.sh_client_secret:
            return stored.sh_client_id, stored.sh_client_secret
    raise PermissionError(
        "no Sentinel Hub credentials: set SH_CLIENT_ID and SH_CLIENT_SECRET (an OAuth client "
        "of your Sentinel Hub or Copernicus Data Space account)"
    )


class RedactSecrets(logging.Filter):
    """Replaces registered secrets and every access token in log records by ``***``
    (requests-oauthlib logs the token request's body, client secret included, and the
    token answer, access token included, at DEBUG level)."""

    TOKENS = re.compile(
        r"""((?:access|refresh|id)_token['"]?\s*[:=]\s*['"]?|Bearer\s+)[^'"\s,;}]+"""
    )

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.TOKENS.sub(r"\1***", message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


# Loggers that see the token request (records are filtered where they are logged).
OAUTH_LOGGERS = ("requests_oauthlib.oauth2_session", "oauthlib.oauth2.rfc6749.clients.base",
                 "urllib3.connectionpool", "sentinelhub.download.session")  # fmt: skip
_REDACT = RedactSecrets()


def make_config(
    service: SentinelService,
    max_retries: int = 5,
    download_attempts: int = 4,
    retry_sleep_s: float = 5.0,
    timeout_s: float = 120.0,
) -> SHConfig:
    """A sentinelhub configuration for ``service`` built without reading or writing the
    user's configuration file; the secret is redacted from the OAuth libraries' logs.

    Args:
        max_retries: attempts on HTTP 429 before giving up (sentinelhub retries for ever
            otherwise); each waits as long as the service's rate-limit headers ask.
        download_attempts: attempts on 5xx answers and connection errors, with backoff
            ``retry_sleep_s`` × 3^k.
    """
    client_id, secret = credentials()
    _REDACT.secrets.add(secret)
    for name in OAUTH_LOGGERS:
        if _REDACT not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_REDACT)
    return SHConfig(
        use_defaults=True,
        sh_client_id=client_id,
        sh_client_secret=secret,
        sh_base_url=service.base_url,
        sh_token_url=service.token_url,
        max_retries=max_retries,
        max_download_attempts=download_attempts,
        download_sleep_time=retry_sleep_s,
        download_timeout_seconds=timeout_s,
    )


def collection(kind: str, service: SentinelService) -> DataCollection:
    """The data collection of ``kind`` (``S2L2A``, ``S2L1C``, ``S1``) served by ``service``
    (the stock collections would always address the Sentinel Hub URL)."""
    stock, _ = COLLECTIONS[kind]
    name = f"PLANTWATCH_{kind}_{hashlib.sha1(service.base_url.encode()).hexdigest()[:10]}"
    if name in DataCollection.__members__:
        return DataCollection[name]
    return stock.define_from(name, service_url=service.base_url)


@dataclass(frozen=True)
class Patch:
    """A plant's patch: UTM CRS (EPSG code), geotransform and the bounding box."""

    crs: CRS
    transform: Affine
    bbox: BBox
    size: int


def plant_patch(lon: float, lat: float, size: int) -> Patch:
    """The ``size`` × ``size`` px patch at 10 m centred on (lon, lat) in degrees, in the UTM
    zone of the plant, its corners on the 10 m grid."""
    crs = CRS.get_utm_from_wgs84(lon, lat)
    x, y = BBox((lon, lat, lon, lat), CRS.WGS84).transform(crs).lower_left
    half = size * PIXEL_SIZE_M / 2
    west = round((x - half) / PIXEL_SIZE_M) * PIXEL_SIZE_M
    north = round((y + half) / PIXEL_SIZE_M) * PIXEL_SIZE_M
    side = size * PIXEL_SIZE_M
    bbox = BBox((west, north - side, west + side, north), crs)
    return Patch(crs, from_origin(west, north, PIXEL_SIZE_M, PIXEL_SIZE_M), bbox, size)


def search_acquisitions(
    config: SHConfig,
    service: SentinelService,
    kind: str,
    patch: Patch,
    start: str,
    end: str,
    max_cloud_pct: float | None = None,
) -> pd.DataFrame:
    """Acquisitions of ``kind`` over the patch between ``start`` and ``end`` (dates, UTC),
    one per UTC day (a datatake is listed once per overlapping tile; the lowest cloud cover
    is kept): ``datetime`` (UTC), ``cloud_cover_pct`` (NaN for S1), ``scene_id``."""
    cloudy = max_cloud_pct is not None and kind != "S1"
    filters = f"eo:cloud_cover < {max_cloud_pct}" if cloudy else None
    catalog = SentinelHubCatalog(config=config)
    results = catalog.search(
        collection(kind, service),
        bbox=patch.bbox,
        time=(start, end),
        filter=filters,
        fields={"include": ["id", "properties.datetime", "properties.eo:cloud_cover"],
                "exclude": []},
    )  # fmt: skip
    rows = [
        {
            "datetime": pd.Timestamp(item["properties"]["datetime"]).tz_convert("UTC"),
            "cloud_cover_pct": float(item["properties"].get("eo:cloud_cover", np.nan)),
            "scene_id": item["id"],
        }
        for item in results
    ]
    frame = pd.DataFrame(rows, columns=["datetime", "cloud_cover_pct", "scene_id"])
    if frame.empty:
        return frame
    frame["day"] = frame["datetime"].dt.strftime("%Y%m%d")
    frame = frame.sort_values(["day", "cloud_cover_pct", "datetime"], na_position="last")
    return frame.drop_duplicates("day").drop(columns="day").reset_index(drop=True)


def patch_request(
    config: SHConfig,
    service: SentinelService,
    kind: str,
    patch: Patch,
    when: datetime,
    window: timedelta = timedelta(minutes=30),
) -> SentinelHubRequest:
    """The Process API request of one patch acquired at ``when`` (± ``window``)."""
    _, script = COLLECTIONS[kind]
    other: dict[str, Any] = (
        {"processing": {"backCoeff": service.s1_backscatter, "orthorectify": True}}
        if kind == "S1"
        else {"processing": {"harmonizeValues": True, "upsampling": "NEAREST"}}
    )
    return SentinelHubRequest(
        evalscript=(EVALSCRIPTS / script).read_text(),
        input_data=[
            SentinelHubRequest.input_data(
                collection(kind, service),
                time_interval=(when - window, when + window),
                mosaicking_order=MosaickingOrder.LEAST_CC if kind != "S1" else None,
                other_args=other,
            )
        ],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=patch.bbox,
        size=(patch.size, patch.size),
        config=config,
    )


CLASS_MAP_OF = {"S2L2A": "scl", "S2L1C": "clm"}  # the class map each evalscript returns


def decode_s2(array: np.ndarray, kind: str) -> tuple[np.ndarray, float, np.ndarray]:
    """A Process API answer (H, W, C + 2: bands, class map and dataMask) → (reflectance ×
    10000 as uint16 [C, H, W], share of pixels without data, the class map uint8 [H, W]:
    L2A's scene classification as Sen2Cor's classes, L1C's cloud mask as 1 clear, 2 cloud;
    0 where there is no data)."""
    bands = len(product(kind).bands)
    key = CLASS_MAP_OF[kind]
    if array.ndim != 3 or array.shape[2] != bands + 2:
        raise ValueError(
            f"the service returned shape {array.shape}; expected (H, W, {bands + 2}) for "
            f"{kind} bands, {key.upper()} and dataMask — check the evalscript"
        )
    valid = array[..., -1] > 0
    no_data = float(1.0 - np.mean(valid))
    image = np.clip(array[..., :bands], 0, np.iinfo(np.uint16).max).astype(np.uint16)
    classes = array[..., bands].astype(np.int64)
    if key == "clm":  # 0 clear, 1 cloud, 255 no data → 1, 2, 0
        valid &= classes <= 1
        classes = classes + 1
    return np.moveaxis(image, 2, 0), no_data, np.where(valid, classes, 0).astype(np.uint8)


def decode_s1(array: np.ndarray) -> tuple[np.ndarray, float]:
    """A Process API answer (H, W, 3: VV, VH linear σ⁰ and dataMask) → (σ⁰ in dB, float32
    [2, H, W], share of pixels without data)."""
    if array.ndim != 3 or array.shape[2] != len(S1_BANDS) + 1:
        raise ValueError(f"the service returned shape {array.shape} for S1; expected (H, W, 3)")
    no_data = float(1.0 - np.mean(array[..., 2] > 0))
    linear = np.maximum(array[..., :2].astype(np.float32), 1e-5)
    return np.moveaxis(10.0 * np.log10(linear), 2, 0).astype(np.float32), no_data
