"""A fake open STAC catalogue on 127.0.0.1: a STAC API (landing page, item search with
bbox, datetime and cloud filters) and range-capable serving of small cloud-optimised
GeoTIFFs made here, with injected 503 answers and a count of the requests.

Each item covers a plant's patch (plus a margin) in the patch's UTM zone at every band's
native resolution (10, 20 or 60 m). Its scene classification (SCL, 20 m) is vegetation
with three 4 × 4 px blocks of the 10 m patch: cloud in the north-west corner (rows and
columns 0–3), cloud shadow in the south-east one (20–23) and cirrus at the centre (10–13).
Its true harmonised DN of band ``b`` at a 10 m pixel is
``expected_dn(b, column)``: ``1000 + 100·b`` plus, in B04, the 10 m column index (to check
the grid); items of baseline ≥ 04.00 without ``boa_offset_applied`` store it + 1000, as ESA
ships them. A radar item (``radar=True``: the Planetary Computer's ``sentinel-1-rtc``) holds
linear γ⁰ at 10 m as float32 with nodata −32768, its dB ``expected_db(band, column)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from plantwatch.bands import product
from plantwatch.sources.sentinel import plant_patch
from plantwatch.sources.stac import EARTH_SEARCH_ASSETS, S1_ASSETS, patch_bounds_wgs84
from tests.data.local_server import local_server

BANDS = product("S2L2A").bands
RESOLUTION_M = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B01": 60, "B09": 60}
MARGIN_M = 600  # the item's raster extends this far around the patch


def expected_dn(band: str, column: np.ndarray) -> np.ndarray:
    """The harmonised DN of ``band`` at 10 m columns ``column`` of an item's raster."""
    base = 1000 + 100 * BANDS.index(band)
    return base + (column if band == "B04" else 0 * column)


def expected_db(band: str, column: np.ndarray) -> np.ndarray:
    """The backscatter of a radar item in dB at 10 m columns ``column``: VV −10, VH −20,
    plus a tenth of a dB per column (to check the grid)."""
    return {"VV": -10.0, "VH": -20.0}[band] + column / 10


def same_truth(band_index: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A scene both fakes (this one and the fake Sentinel Hub) serve: the harmonised DN of
    band ``band_index`` at UTM coordinates ``x``, ``y`` (m), constant on 60 m cells so that
    every band's resolution samples it alike."""
    cells = np.floor(x / 60).astype(np.int64) + 7 * np.floor(y / 60).astype(np.int64)
    return (1000 + 100 * band_index + cells % 53).astype(np.uint16)


def scene_classes(patch_index: np.ndarray) -> np.ndarray:
    """SCL [n, n] of an item whose pixels sit at 10 m patch rows/columns ``patch_index``."""
    rows, columns = np.meshgrid(patch_index, patch_index, indexing="ij")
    scl = np.full(rows.shape, 4, np.uint16)  # vegetation
    for (low, high), code in (((0, 3), 9), ((20, 23), 3), ((10, 13), 10)):
        block = (rows >= low) & (rows <= high) & (columns >= low) & (columns <= high)
        scl[block] = code
    return scl


@dataclass
class FakeItem:
    """One STAC item: a plant's tile on one day."""

    item_id: str
    lon: float
    lat: float
    datetime: str
    cloud_pct: float
    baseline: str = "05.09"
    offset_applied: bool = False
    west_half_only: bool = False  # a tile that covers only the west half of the patch
    extra_dn: int = 0  # added to every value (to tell two tiles of one datatake apart)
    missing: tuple[str, ...] = ()  # asset keys the item lacks
    truth: bool = False  # serve `same_truth` on a 60 m-aligned grid instead of expected_dn
    radar: bool = False  # a Sentinel-1 RTC item (VV, VH) instead of a Sentinel-2 one


@dataclass
class FakeStac:
    """State of the fake: items, files, requests seen and 503s to answer."""

    root: Path
    items: list[FakeItem] = field(default_factory=list)
    size_px: int = 24
    requests: list[str] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)  # path prefix → 503s to answer
    url: str = ""
    asset_keys: dict[str, str] = field(default_factory=lambda: dict(EARTH_SEARCH_ASSETS))
    earth_search_flags: bool = True  # items say whether Element 84 removed the offset
    tokens: dict[str, str] = field(default_factory=dict)  # account/container → SAS token

    def add(self, item: FakeItem) -> None:
        """Write the item's COGs."""
        self.items.append(item)
        patch = plant_patch(item.lon, item.lat, self.size_px)
        west, north = patch.transform.c - MARGIN_M, patch.transform.f + MARGIN_M
        if item.truth:  # a grid of every resolution on the 60 m cells of the truth
            west, north = np.floor(west / 60) * 60, np.ceil(north / 60) * 60
        side = self.size_px * 10 + 2 * MARGIN_M
        stored = 1000 if float(item.baseline) >= 4.0 and not item.offset_applied else 0
        folder = self.root / item.item_id
        folder.mkdir(parents=True, exist_ok=True)
        if item.radar:
            self._add_radar(item, folder, (west, north), side, patch.crs.epsg)
            return
        for band in (*BANDS, "SCL"):
            step = RESOLUTION_M.get(band, 20)
            n = side // step
            columns = (np.arange(n) * step + step // 2 - MARGIN_M) // 10  # patch 10 m column
            if band == "SCL":
                values = scene_classes(columns)
            elif item.truth:
                centres = np.arange(n) * step + step / 2
                x, y = np.meshgrid(west + centres, north - centres)
                values = (same_truth(BANDS.index(band), x, y) + stored).astype(np.uint16)
            else:
                values = expected_dn(band, columns)[None, :].repeat(n, axis=0) + stored
                values = (values + item.extra_dn).astype(np.uint16)
            if item.west_half_only:
                values[:, (np.arange(n) * step - MARGIN_M) >= self.size_px * 5] = 0
            profile = {"driver": "COG", "dtype": "uint16", "count": 1, "width": n,
                       "height": n, "crs": f"EPSG:{patch.crs.epsg}", "nodata": 0,
                       "blocksize": 128, "transform": from_origin(west, north, step, step)}
            with rasterio.open(folder / f"{self.asset_keys[band]}.tif", "w", **profile) as f:
                f.write(values, 1)

    def _add_radar(
        self, item: FakeItem, folder: Path, corner: tuple[float, float], side: int, epsg: int
    ) -> None:
        n = side // 10
        columns = np.arange(n) - MARGIN_M // 10
        for band, key in S1_ASSETS.items():
            linear = 10 ** (expected_db(band, columns) / 10)
            values = np.repeat(linear[None, :], n, axis=0).astype(np.float32)
            if item.west_half_only:
                values[:, columns >= self.size_px // 2] = -32768
            profile = {"driver": "COG", "dtype": "float32", "count": 1, "width": n,
                       "height": n, "crs": f"EPSG:{epsg}", "nodata": -32768,
                       "blocksize": 128, "transform": from_origin(*corner, 10, 10)}  # fmt: skip
            with rasterio.open(folder / f"{key}.tif", "w", **profile) as f:
                f.write(values, 1)

    def feature(self, item: FakeItem) -> dict:
        patch = plant_patch(item.lon, item.lat, self.size_px)
        west, south, east, north = patch_bounds_wgs84(patch)
        pad = 0.02
        box = [west - pad, south - pad, east + pad, north + pad]
        keys = S1_ASSETS.values() if item.radar else self.asset_keys.values()
        assets = {key: {"href": f"{self.url}/cogs/{item.item_id}/{key}.tif",
                        "type": "image/tiff; application=geotiff; profile=cloud-optimized"}
                  for key in keys if key not in item.missing}  # fmt: skip
        flags = {"earthsearch:boa_offset_applied": item.offset_applied}
        properties = {"datetime": item.datetime, "eo:cloud_cover": item.cloud_pct,
                      "s2:processing_baseline": item.baseline,
                      **(flags if self.earth_search_flags else {})}  # fmt: skip
        if item.radar:
            properties = {"datetime": item.datetime, "sar:polarizations": ["VV", "VH"]}
        return {
            "type": "Feature", "stac_version": "1.0.0", "id": item.item_id,
            "collection": "sentinel-1-rtc" if item.radar else "sentinel-2-l2a", "bbox": box,
            "geometry": {"type": "Polygon", "coordinates": [[
                [box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]],
                [box[0], box[1]]]]},
            "properties": properties, "assets": assets, "links": [],
        }  # fmt: skip

    def search(self, body: dict) -> dict:
        west, south, east, north = body["bbox"]
        start, end = body["datetime"].split("/")
        limit = (body.get("query") or {}).get("eo:cloud_cover", {}).get("lt", 101)
        found = []
        for item in self.items:
            feature = self.feature(item)
            box = feature["bbox"]
            inside = box[0] < east and box[2] > west and box[1] < north and box[3] > south
            wanted = feature["collection"] in body.get("collections", [feature["collection"]])
            if inside and wanted and start <= item.datetime <= end and item.cloud_pct < limit:
                found.append(feature)
        return {"type": "FeatureCollection", "features": found, "links": []}


def _handler(state: FakeStac) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            return

        def _fail(self) -> bool:
            state.requests.append(f"{self.command} {self.path}")
            for prefix, left in state.fail_next.items():
                if self.path.startswith(prefix) and left > 0:
                    state.fail_next[prefix] = left - 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
            return False

        def _json(self, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self._fail():
                return
            if self.path in ("/", ""):
                self._json({
                    "type": "Catalog", "id": "fake", "stac_version": "1.0.0",
                    "description": "fake Earth Search",
                    "conformsTo": ["https://api.stacspec.org/v1.0.0/core",
                                   "https://api.stacspec.org/v1.0.0/item-search",
                                   "https://api.stacspec.org/v1.0.0/item-search#query"],
                    "links": [{"rel": "self", "href": f"{state.url}/"},
                              {"rel": "root", "href": f"{state.url}/"},
                              {"rel": "search", "href": f"{state.url}/search",
                               "type": "application/geo+json", "method": "POST"}],
                })  # fmt: skip
                return
            if self.path.startswith("/sas/"):  # the Planetary Computer's token API
                token = state.tokens[self.path.removeprefix("/sas/")]
                self._json({"msft:expiry": "2099-01-01T00:00:00Z", "token": token})
                return
            path = state.root / self.path.removeprefix("/cogs/")
            if not self.path.startswith("/cogs/") or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = path.read_bytes()
            wanted = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if wanted:
                first = int(wanted.group(1))
                last = min(int(wanted.group(2) or len(data) - 1), len(data) - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                data = data[first : last + 1]
            else:
                self.send_response(200)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_HEAD(self) -> None:
            path = state.root / self.path.removeprefix("/cogs/")
            state.requests.append(f"HEAD {self.path}")
            self.send_response(200 if path.is_file() else 404)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(path.stat().st_size if path.is_file() else 0))
            self.end_headers()

        def do_POST(self) -> None:
            if self._fail():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self._json(state.search(body))

    return Handler


@contextmanager
def fake_stac(root: Path) -> Iterator[FakeStac]:
    """Serve a `FakeStac` of COGs under ``root`` on a free port of 127.0.0.1."""
    state = FakeStac(root)
    with local_server(_handler(state)) as url:
        state.url = url
        yield state
