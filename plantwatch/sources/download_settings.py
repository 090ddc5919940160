"""`DownloadSettings`: what ``plantwatch download`` fetches (recorded in ``dataset.json``)."""

from __future__ import annotations

from dataclasses import dataclass


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
            ``planetary-computer`` (STAC APIs, no account, S2L2A; Sentinel-1 only from the
            Planetary Computer, with its free subscription key).
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
