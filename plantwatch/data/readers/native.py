"""Published scene datasets into the canonical form: finding their images
(``images/**/{positive,negative}/*.tif``), reading them (checked band count, reflectance ×
10000 as uint16), their plume masks from Label Studio polygons, one image size (centre crop
or edge padding), and writing each through the canonical writer."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import Affine
from tqdm.auto import tqdm

from plantwatch.bands import L1C_BAND_NAMES
from plantwatch.data.errors import DatasetError
from plantwatch.data.format import layout
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.format.sites import footprint_centre
from plantwatch.data.format.writer import DatasetWriter
from plantwatch.data.loading.sample import MASK_UNLABELLED
from plantwatch.data.readers.labelstudio import LabelKey, PolygonLabel, rasterize_polygons

_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T_ ]?(\d{2})[:\-_]?(\d{2})[:\-_]?(\d{2}))?")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(name: str) -> str:
    """A file-system-safe observation id: ``1234_2019-01-01T10:30:00`` →
    ``1234_2019-01-01T10-30-00``."""
    return _UNSAFE.sub("-", name.replace(":", "-")).strip("-")


def datetime_from_name(name: str) -> str:
    """ISO 8601 UTC time found in a file name (``…2019-05-01T10:30:31…``, ``…20190501…``);
    empty when the name holds none."""
    found = _DATE.search(name)
    if not found:
        return ""
    year, month, day, hour, minute, second = found.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return ""
    clock = f"T{hour}:{minute}:{second}Z" if hour else "T00:00:00Z"
    return f"{year}-{month}-{day}{clock}"


@dataclass
class NativeObservation:
    """An image of a published dataset: its path, observation id, folder class and path
    below the images folder (``subset1/positive/a.tif``)."""

    path: Path
    obs_id: str
    positive: bool
    relative: Path


def scan_images(images: Path) -> list[NativeObservation]:
    """Every ``*.tif`` below ``images`` whose path has a ``positive`` or ``negative`` folder,
    with unique observation ids (the file stem; prefixed by its sub-folders where the stem
    repeats).

    Raises:
        DatasetError: two files whose ids are the same once made safe (``a b.tif``,
            ``a-b.tif``), naming both.
    """
    paths = [p for p in sorted(images.rglob("*.tif")) if {"positive", "negative"} & set(p.parts)]
    stems = Counter(p.stem for p in paths)
    found: dict[str, NativeObservation] = {}
    for path in paths:
        relative = path.relative_to(images)
        name = path.stem
        if stems[name] > 1:
            name = "_".join((*relative.parent.parts, name))
        obs_id = safe_id(name)
        if obs_id in found:
            raise DatasetError(
                f"{found[obs_id].path} and {path}: both become observation id {obs_id!r}; "
                "rename one of them"
            )
        found[obs_id] = NativeObservation(path, obs_id, "positive" in path.parts, relative)
    return list(found.values())


def match_labels(
    observations: list[NativeObservation], labels: dict[LabelKey, PolygonLabel]
) -> dict[str, PolygonLabel]:
    """The labels of each observation (by obs_id). An image whose file name is unique gets
    every label of that name. Images that share a name are told apart by path: each gets
    the labels in the deepest label sub-folder that its own image sub-folders start with
    (``segmentation_labels/subset1/`` for ``images/subset1/positive/a.tif``).

    Raises:
        DatasetError: one label entry would serve two images of the same name (a flat label
            folder for ``subset1/positive/a.tif`` and ``subset2/positive/a.tif``).
    """
    by_name: dict[str, list[tuple[str, ...]]] = {}
    for folder, image in labels:
        by_name.setdefault(image, []).append(folder)
    names = Counter(o.path.name for o in observations)
    matched: dict[str, PolygonLabel] = {}
    users: dict[LabelKey, NativeObservation] = {}
    for observation in observations:
        name, parts = observation.path.name, observation.relative.parent.parts
        if names[name] == 1:
            found = [labels[(f, name)] for f in by_name.get(name, [])]
            if found:
                matched[observation.obs_id] = PolygonLabel(
                    name, [p for label in found for p in label.polygons], found[0].source
                )
            continue
        folders = [f for f in by_name.get(name, []) if parts[: len(f)] == f]
        if not folders:
            continue
        key = (max(folders, key=len), name)
        if key in users:
            raise DatasetError(
                f"{labels[key].source}: labels {name}, and images/{users[key].relative} and "
                f"images/{observation.relative} both have that name; put each one's labels in "
                "a sub-folder of segmentation_labels named like its image sub-folder"
            )
        users[key] = observation
        matched[observation.obs_id] = labels[key]
    return matched


def plume_mask(
    observation: NativeObservation,
    label: PolygonLabel | None,
    shape: tuple[int, int],
    all_touched: bool,
) -> np.ndarray | None:
    """The observation's plume mask at its native size, uint8 [H, W]; None when unknown."""
    if not observation.positive:
        return np.zeros(shape, np.uint8)
    if label is None or not label.polygons:
        return None
    return rasterize_polygons(label.polygons, *shape, all_touched=all_touched)


@dataclass
class NativeImage:
    """One published image: ``dn`` uint16 [C, H, W] (reflectance × 10000), its CRS and
    transform, and the path it was read from."""

    dn: np.ndarray
    crs: str
    transform: Affine
    path: Path


def read_header(path: str | Path) -> tuple[str, Affine, int, int]:
    """(CRS, transform, height, width) of a GeoTIFF without reading its pixels.

    Raises:
        DatasetError: unreadable file, or one without a CRS (sites need the georeference).
    """
    path = Path(path)
    try:
        with rasterio.open(path) as src:
            crs, transform, height, width = src.crs, src.transform, src.height, src.width
    except rasterio.errors.RasterioError as error:
        raise DatasetError(f"{path}: not a readable GeoTIFF ({error}); re-download it") from None
    if crs is None:
        raise DatasetError(
            f"{path}: no coordinate reference system; the georeference is needed to group "
            "images by site — use the dataset's original GeoTIFFs"
        )
    return crs.to_string(), transform, height, width


def read_native_image(path: str | Path, bands: int) -> NativeImage:
    """Read a published Sentinel-2 GeoTIFF as reflectance × 10000.

    Integer files are taken as DN already; float files whose values all lie in [0, 2] are
    taken as reflectance and scaled by 10000.

    Raises:
        DatasetError: unreadable file, a band count other than ``bands``, NaN, negative
            values or values beyond uint16, each naming the file.
    """
    path = Path(path)
    data, profile = read_geotiff(path)
    if data.shape[0] != bands:
        raise DatasetError(
            f"{path}: has {data.shape[0]} bands, expected {bands} (all Sentinel-2 bands, "
            "B01…B12 with B8A and B10); re-export the full image"
        )
    values = data.astype(np.float64)
    if np.isnan(values).any():
        raise DatasetError(f"{path}: contains NaN; fill or drop the image")
    if values.min() < 0:
        raise DatasetError(f"{path}: negative values (min {values.min():g}); expected DN ≥ 0")
    if np.issubdtype(data.dtype, np.floating) and values.max() <= 2.0:
        values = values * layout.REFLECTANCE_SCALE
    if values.max() > np.iinfo(np.uint16).max:
        raise DatasetError(f"{path}: values up to {values.max():g} do not fit uint16 DN")
    crs = profile["crs"].to_string() if profile.get("crs") else ""
    return NativeImage(np.rint(values).astype(np.uint16), crs, profile["transform"], path)


@dataclass
class Fitted:
    """An image brought to ``size`` × ``size``: ``dn`` [C, size, size], ``mask`` [size, size]
    (None when the image has none; padding is ``MASK_UNLABELLED``), the new transform, the
    padded pixel count and the share of plume pixels the crop cut off (0–1)."""

    dn: np.ndarray
    mask: np.ndarray | None
    transform: Affine
    padded_pixels: int
    plume_lost: float


def fit_to_size(image: NativeImage, mask: np.ndarray | None, size: int) -> Fitted:
    """Centre-crop a larger image (the plant is at the centre; no resampling, so masks stay
    binary) and pad a smaller one at the bottom and right by repeating its last row and
    column, as the smoke-plume authors did, with the padding marked unlabelled."""
    dn, transform = image.dn, image.transform
    height, width = dn.shape[1:]
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    plume_before = 0 if mask is None else int((mask == 1).sum())
    dn = dn[:, top : top + size, left : left + size]
    if mask is not None:
        mask = mask[top : top + size, left : left + size]
    transform = transform @ Affine.translation(left, top)
    pad_rows, pad_cols = size - dn.shape[1], size - dn.shape[2]
    padded = size * size - dn.shape[1] * dn.shape[2]
    if pad_rows or pad_cols:
        dn = np.pad(dn, ((0, 0), (0, pad_rows), (0, pad_cols)), mode="edge")
        if mask is not None:
            mask = np.pad(mask, ((0, pad_rows), (0, pad_cols)), constant_values=MASK_UNLABELLED)
    plume_after = 0 if mask is None else int((mask == 1).sum())
    lost = 1.0 - plume_after / plume_before if plume_before else 0.0
    return Fitted(dn, mask, transform, padded, lost)


def scene_centres(observations: list[NativeObservation], progress: bool = True) -> np.ndarray:
    """Footprint centre (lon, lat, degrees) and width (m) per image, float64 [N, 3], from the
    GeoTIFF headers alone."""
    headers = (read_header(o.path) for o in observations)
    bar = tqdm(headers, total=len(observations), desc="georeferences", unit="image",
               disable=not progress)  # fmt: skip
    return np.array([footprint_centre(*header) for header in bar]).reshape(-1, 3)


def write_scene(
    writer: DatasetWriter,
    observation: NativeObservation,
    row: Mapping[str, Any],
    labels: dict[str, PolygonLabel],
    size: int,
    all_touched: bool,
) -> Fitted:
    """Read a 13-band scene, rasterise its plume mask (``labels`` by obs_id, from
    `match_labels`), bring both to ``size`` and write them with ``row`` plus
    ``padded_pixels`` and ``plume_lost_share`` (share of plume pixels the crop cut off,
    0–1)."""
    image = read_native_image(observation.path, len(L1C_BAND_NAMES))
    mask = plume_mask(observation, labels.get(observation.obs_id), image.dn.shape[1:],
                      all_touched)  # fmt: skip
    fitted = fit_to_size(image, mask, size)
    record = {**row, "padded_pixels": fitted.padded_pixels,
              "plume_lost_share": round(fitted.plume_lost, 4)}  # fmt: skip
    writer.add(record, fitted.dn, image.crs, fitted.transform, fitted.mask)
    return fitted


def find_scenes(src: Path, dataset: str) -> list[NativeObservation]:
    """The images of a published scene dataset unpacked in ``src``.

    Raises:
        DatasetError: none in the expected layout.
    """
    found = scan_images(src / "images")
    if not found:
        raise DatasetError(
            f"{src / 'images'}: no images/**/positive/*.tif or images/**/negative/*.tif; "
            f"point SRC at the unpacked {dataset} dataset"
        )
    return found


def scene_info(source: Mapping[str, Any], conversion: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dataset.json`` record of converted 13-band Sentinel-2 scenes (product S2L1C)."""
    return {
        "format": layout.FORMAT_NAME,
        "format_version": layout.FORMAT_VERSION,
        "source": dict(source),
        "conversion": dict(conversion),
        "product": "S2L1C",
        "bands": list(L1C_BAND_NAMES),
        "reflectance_scale": layout.REFLECTANCE_SCALE,
        "pixel_size_m": layout.PIXEL_SIZE_M,
        "boa_add_offset_dn": 0,
    }
