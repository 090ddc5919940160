"""`plantwatch data fetch NAME ROOT`: download a published dataset from its manifest.

A manifest (``plantwatch/data/tools/manifests/<name>.yaml``) names the dataset's citation, DOI,
licence, base URL, files (with size and SHA-256 or MD5 where known) and the layout they
unpack to. Each file is streamed into ``ROOT/downloads/<file>.partial`` with a progress bar;
a rerun resumes a partial file with an HTTP range request. Only a verified file is renamed
to ``ROOT/downloads/<file>``, and it is verified again before it is unpacked: a file whose
checksum or size differs from the manifest is refused (deleted, never unpacked). Archives
are unpacked safely (``plantwatch/files/archives.py``: nothing can land outside ``ROOT``) into
``ROOT`` once (a ``.unpacked`` marker beside the download remembers it). File names in a
manifest are plain names, never paths. Nothing is fetched unless this command is run.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from tqdm.auto import tqdm

from plantwatch.data.errors import DatasetError
from plantwatch.files.archives import unpack_safely
from plantwatch.files.ids import checked_id

MANIFESTS = Path(__file__).resolve().parent / "manifests"
CHUNK_BYTES = 1 << 20


@dataclass
class ManifestFile:
    """One file of a dataset: name, size in bytes and checksums (None where unknown)."""

    name: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    unpack: bool = True


@dataclass
class Manifest:
    """A dataset's download description (``plantwatch/data/tools/manifests/<name>.yaml``)."""

    name: str
    title: str
    citation: str
    doi: str
    licence: str
    base_url: str
    layout: str
    files: list[ManifestFile]
    expected: list[str] = field(default_factory=list)
    notes: str = ""

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """Read and check a manifest.

        Raises:
            DatasetError: unreadable or missing keys, naming them.
        """
        path = Path(path)
        if not path.is_file():
            known = sorted(p.stem for p in MANIFESTS.glob("*.yaml"))
            raise DatasetError(f"{path}: no such manifest; known datasets: {known}")
        try:
            record: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise DatasetError(f"{path}: not valid YAML ({error}); fix the manifest") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path}: a manifest is a mapping of keys; fix the manifest")
        missing = [k for k in ("name", "title", "citation", "doi", "licence", "base_url",
                               "layout", "files") if k not in record]  # fmt: skip
        if missing:
            raise DatasetError(f"{path}: missing keys {missing}")
        try:
            files = [ManifestFile(**f) for f in record.pop("files")]
            manifest = cls(files=files, **record)
        except TypeError as error:
            raise DatasetError(f"{path}: unexpected or missing entries ({error})") from None
        for entry in files:
            checked_id(entry.name, "file name", path)
        return manifest


def manifest_path(name: str) -> Path:
    """The manifest of a dataset name, or ``name`` itself when it is a YAML file."""
    return Path(name) if name.endswith((".yaml", ".yml")) else MANIFESTS / f"{name}.yaml"


def _checksum(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, entry: ManifestFile) -> str:
    """Check ``path`` against the manifest's checksums; returns its SHA-256.

    Raises:
        DatasetError: a checksum or the size differs (the file is deleted).
    """
    expected = {"sha256": entry.sha256, "md5": entry.md5}
    actual = {"sha256": _checksum(path, "sha256")}
    if entry.md5:
        actual["md5"] = _checksum(path, "md5")
    wrong = [a for a, value in expected.items() if value and value.lower() != actual[a]]
    if entry.size is not None and path.stat().st_size != entry.size:
        wrong.append(f"size {path.stat().st_size} ≠ {entry.size}")
    if wrong:
        path.unlink()
        raise DatasetError(
            f"{path}: download refused ({', '.join(wrong)} differ from the manifest); "
            "it was deleted — rerun to download it again, or check the base URL"
        )
    if not entry.sha256 and not entry.md5:
        warnings.warn(
            f"{path.name}: the manifest has no checksum; sha256 {actual['sha256']} is unverified",
            stacklevel=2,
        )
    return actual["sha256"]


def download(url: str, partial: Path, progress: bool = True, timeout_s: float = 60.0) -> Path:
    """Stream ``url`` into ``partial``, resuming where a previous attempt stopped (HTTP
    range request; a server that ignores it makes the download start over); returns
    ``partial``, which the caller verifies before renaming it."""
    offset = partial.stat().st_size if partial.is_file() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
        if response.status_code == 416:  # nothing beyond the partial file: verify decides
            return partial
        response.raise_for_status()
        resumed = offset and response.status_code == 206
        mode, start = ("ab", offset) if resumed else ("wb", 0)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length else None
        with partial.open(mode) as handle, tqdm(total=total, initial=start, unit="B",
                                                unit_scale=True, desc=partial.name,
                                                disable=not progress) as bar:  # fmt: skip
            for chunk in response.iter_content(CHUNK_BYTES):
                handle.write(chunk)
                bar.update(len(chunk))
    return partial


def fetch(name: str, root: str | Path, base_url: str | None = None, progress: bool = True) -> Path:
    """Download, verify and unpack the dataset ``name`` (or a manifest path) into ``root``.

    Args:
        name: a manifest in ``plantwatch/data/tools/manifests`` (``smoke-plumes``, ``hanna2021``,
            ``ben-ge-8k``) or the path of a manifest YAML.
        root: the dataset folder; downloads go to ``root/downloads``.
        base_url: replaces the manifest's base URL (a mirror, or a local server in tests).

    Raises:
        DatasetError: a refused file, a failed download or a layout that did not appear.
    """
    manifest = Manifest.read(manifest_path(name))
    root = Path(root)
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    base = (base_url or manifest.base_url).rstrip("/")
    for entry in manifest.files:
        target = downloads / entry.name
        fresh = not target.is_file()
        if fresh:
            partial = target.with_name(target.name + ".partial")
            try:
                download(f"{base}/{entry.name}", partial, progress)
            except requests.RequestException as error:
                raise DatasetError(
                    f"{base}/{entry.name}: download failed ({error}); rerun to resume"
                ) from None
            verify(partial, entry)
            partial.replace(target)
        marker = target.with_name(target.name + ".unpacked")
        if entry.unpack and not marker.is_file():
            if not fresh:  # placed or changed since it was downloaded: checked again
                verify(target, entry)
            unpack_safely(target, root)
            marker.write_text("")
    absent = [p for p in manifest.expected if not (root / p).exists()]
    if absent:
        raise DatasetError(
            f"{root}: after unpacking, {absent} are missing; the archive's layout differs from "
            f"the manifest {manifest_path(name)} — fix its 'expected' entries"
        )
    return root
