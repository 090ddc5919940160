"""A fake Sentinel Hub on 127.0.0.1: OAuth token, Catalog search with paging, Process API
returning GeoTIFF-encoded arrays, and injected 429 / 500 answers."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qs

import numpy as np
import tifffile

from tests.data.entsoe_fakes import SFTP, write_generation_file, write_registry
from tests.data.local_server import local_server

TOKEN_PATH = "/oauth/token"
ACCESS_TOKEN = "fake.eyJleHAiOjF9.token"
PAGE_SIZE = 2  # small pages, so every search pages
BANDS = {"sentinel-2-l2a": 12, "sentinel-2-l1c": 13, "sentinel-1-grd": 2}


@dataclass
class FakeSentinelHub:
    """State of the fake service.

    Attributes:
        cloudy_west_of: every S2 scene of a bbox west of this longitude (degrees) has 95 %
            cloud cover, so its plant has no clear acquisition.
        no_data_days: acquisition days (``YYYYMMDD``) whose process answers have no data.
        failures: status codes answered (in order) to the next process requests.
        revisit_days: days between acquisitions.
        delay_s: seconds each process answer takes.
        token_status: the status of token answers (401: the credentials are refused).
    """

    cloudy_west_of: float = -180.0
    no_data_days: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)
    revisit_days: int = 5
    delay_s: float = 0.0
    token_status: int = 200
    process_calls: int = 0
    catalog_calls: int = 0
    token_calls: int = 0
    secrets_seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    truth: Callable[[int, np.ndarray, np.ndarray], np.ndarray] | None = None  # S2 DN at x, y

    def acquisitions(self, collection: str, bbox: list[float], start: str, end: str) -> list:
        """STAC features over ``bbox`` between ``start`` and ``end``; each S2 datatake is
        listed twice (two overlapping tiles) like the real catalog does."""
        first = datetime.fromisoformat(start.replace("Z", "+00:00"))
        last = datetime.fromisoformat(end.replace("Z", "+00:00"))
        features = []
        day = datetime(first.year, first.month, first.day, 10, 20, tzinfo=timezone.utc)
        k = 0
        while day <= last:
            if day >= first:
                radar = collection == "sentinel-1-grd"
                when = day + timedelta(hours=7) if radar else day
                cloud = 95.0 if bbox[0] < self.cloudy_west_of else float((k * 37) % 60)
                for tile in ("T32UPB", "T32UQB")[: 1 if radar else 2]:
                    props = {"datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
                    if not radar:
                        props["eo:cloud_cover"] = cloud + (0.5 if tile == "T32UQB" else 0.0)
                    features.append({"id": f"{collection}_{when:%Y%m%d}_{tile}",
                                     "properties": props})  # fmt: skip
            k += 1
            day += timedelta(days=self.revisit_days)
        return features


def _filter_cloud(features: list, text: str | None) -> list:
    match = re.search(r"eo:cloud_cover\s*<\s*([\d.]+)", text or "")
    if not match:
        return features
    limit = float(match.group(1))
    return [f for f in features if f["properties"].get("eo:cloud_cover", 0) < limit]


def _tiff(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, photometric="minisblack", planarconfig="contig")
    return buffer.getvalue()


def _handler(state: FakeSentinelHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet."""

        def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == TOKEN_PATH:
                form = parse_qs(body.decode())
                with state.lock:
                    state.token_calls += 1
                    state.secrets_seen += form.get("client_secret", [])
                if state.token_status != 200:
                    refusal = {"error": "invalid_client", "error_description": "Invalid client"}
                    self._send(state.token_status, json.dumps(refusal).encode(),
                               "application/json")  # fmt: skip
                    return
                token = {"access_token": ACCESS_TOKEN, "token_type": "Bearer",
                         "expires_in": 3600}  # fmt: skip
                self._send(200, json.dumps(token).encode(), "application/json")
                return
            if self.headers.get("Authorization", "") != f"Bearer {ACCESS_TOKEN}":
                self._send(401, b'{"error": "unauthorized"}', "application/json")
                return
            payload = json.loads(body or b"{}")
            if self.path.endswith("/api/v1/catalog/1.0.0/search"):
                self._catalog(payload)
            elif self.path.endswith("/api/v1/process"):
                self._process(payload)
            else:
                self._send(404, b"{}", "application/json")

        def _catalog(self, payload: dict) -> None:
            with state.lock:
                state.catalog_calls += 1
            start, end = payload["datetime"].split("/")
            features = state.acquisitions(payload["collections"][0], payload["bbox"], start, end)
            features = _filter_cloud(features, payload.get("filter"))
            offset = int(payload.get("next") or 0)
            page = features[offset : offset + PAGE_SIZE]
            more = offset + PAGE_SIZE < len(features)
            answer = {"type": "FeatureCollection", "features": page,
                      "context": {"next": offset + PAGE_SIZE} if more else {}}  # fmt: skip
            self._send(200, json.dumps(answer).encode(), "application/json")

        def _process(self, payload: dict) -> None:
            with state.lock:
                state.process_calls += 1
                status = state.failures.pop(0) if state.failures else 200
            time.sleep(state.delay_s)
            if status == 429:
                self._send(429, b'{"error": "rate"}', "application/json", {"Retry-After": "10"})
                return
            if status != 200:
                self._send(status, b'{"error": "server"}', "application/json")
                return
            collection = payload["input"]["data"][0]["type"]
            day = payload["input"]["data"][0]["dataFilter"]["timeRange"]["to"][:10]
            width, height = payload["output"]["width"], payload["output"]["height"]
            bands = BANDS[collection]
            rng = np.random.default_rng(state.process_calls)
            valid = float(day.replace("-", "") not in state.no_data_days)
            if collection == "sentinel-1-grd":
                data = rng.uniform(0.01, 0.3, (height, width, bands)).astype(np.float32)
                mask = np.full((height, width, 1), valid, np.float32)
            else:
                data = rng.integers(300, 3000, (height, width, bands)).astype(np.uint16)
                if state.truth is not None:  # the scene at the patch's pixel centres
                    west, _, east, north = payload["input"]["bounds"]["bbox"]
                    step = (east - west) / width
                    x, y = np.meshgrid(west + (np.arange(width) + 0.5) * step,
                                       north - (np.arange(height) + 0.5) * step)  # fmt: skip
                    data = np.stack([state.truth(b, x, y) for b in range(bands)], axis=2)
                mask = np.full((height, width, 1), valid, np.uint16)
                # the class map after the bands, cloud over the top quarter: L2A's scene
                # classification (4 vegetation, 9 cloud), L1C's cloud mask (0 clear, 1 cloud)
                clear, cloud = (4, 9) if collection == "sentinel-2-l2a" else (0, 1)
                classes = np.full((height, width, 1), clear, np.uint16)
                classes[: height // 4] = cloud
                data = np.concatenate([data, classes], axis=2)
            self._send(200, _tiff(np.concatenate([data, mask], axis=2)), "image/tiff")

    return Handler


@contextmanager
def serve(state: FakeSentinelHub | None = None) -> Iterator[FakeSentinelHub]:
    """Run the fake service on a free port of 127.0.0.1 while inside."""
    state = state or FakeSentinelHub()
    with local_server(_handler(state)) as url:
        state.url = url
        yield state


def download_fake_dataset(root: Path, work: Path) -> Path:
    """A dataset written by `plantwatch download` from the fake service: six plants of
    every fuel, 48 px patches of every acquisition in June 2021, generation for half the
    acquisitions (ENTSO-E 16.1.A, SFTP layout)."""
    from plantwatch.sources import sentinel
    from plantwatch.sources.download import download_dataset
    from plantwatch.sources.download_settings import DownloadSettings
    from plantwatch.sources.labels import ObservationLabels
    from plantwatch.sources.registry import PlantRegistry

    fuels = ["lignite", "hard_coal", "gas", "peat_oil", "lignite", "gas"]
    plants = [
        {"plant_id": f"P{k}", "name": f"Plant {k}", "country": "Germany", "fuel_type": fuel,
         "capacity_mw": 500.0 + 100 * k, "unit_codes": f"U{k}", "lon": 7.0 + k, "lat": 51.0}
        for k, fuel in enumerate(fuels)
    ]  # fmt: skip
    registry = PlantRegistry.read(write_registry(work / "plants.geojson", plants))
    rows = [(f"U{k}", f"2021-06-{day:02d} 10:00", 300.0 + 10 * k + day, "10Y-A")
            for k in range(len(fuels)) for day in range(1, 31, 10)]  # fmt: skip
    generation = write_generation_file(work / "generation.csv", rows, SFTP)
    environment = {
        "OAUTHLIB_INSECURE_TRANSPORT": "1", "SH_CLIENT_ID": "fake",
        "SH_CLIENT_SECRET": "fake-secret", "XDG_CONFIG_HOME": str(work / "config"),
    }  # fmt: skip
    with mock.patch.dict(os.environ, environment), serve() as fake:
        service = sentinel.resolve_service("sentinel-hub", fake.url, fake.url + TOKEN_PATH)
        settings = DownloadSettings(start="2021-06-01", end="2021-06-30", size_px=48,
                                    max_cloud_pct=100.0, base_url=service.base_url,
                                    token_url=service.token_url)  # fmt: skip
        summary = download_dataset(
            registry,
            root,
            settings,
            ObservationLabels.read(registry, [generation]),
            config=sentinel.make_config(service, retry_sleep_s=0.01),
            progress=False,
        )
    assert summary.complete, summary.lines()
    return root
