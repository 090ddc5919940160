import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import yaml

from plantwatch.data.errors import DatasetError
from plantwatch.data.tools.fetch import MANIFESTS, Manifest, fetch
from plantwatch.errors import UserError


def _archive() -> bytes:
    """A tar.gz holding images/a.tif and segmentation_labels/a.json."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in (("images/a.tif", b"x" * 5000), ("segmentation_labels/a.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class Files(BaseHTTPRequestHandler):
    """Serves ``files`` from 127.0.0.1 with HTTP range requests; records the Range headers."""

    files: ClassVar[dict[str, bytes]] = {}
    ranges: ClassVar[list[str | None]] = []

    def do_GET(self):  # the http.server API
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.ranges.append(self.headers.get("Range"))
        start = (
            int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        )
        if start >= len(body):
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Files.files, Files.ranges = {}, []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _manifest(tmp_path, body: bytes, name: str = "tiny.tar.gz", **changes) -> str:
    record = {
        "name": "tiny", "title": "tiny", "citation": "me", "doi": "10.0/none", "licence": "CC0",
        "base_url": "http://invalid.example", "layout": "smoke-plumes",
        "files": [{"name": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}],
        "expected": ["images", "segmentation_labels"],
        **changes,
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(record))
    return str(path)


def test_a_resumed_download_completes_and_unpacks(tmp_path, server):
    body = _archive()
    Files.files["tiny.tar.gz"] = body
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "tiny.tar.gz.partial").write_bytes(body[:100])  # a killed attempt
    fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)
    assert Files.ranges == ["bytes=100-"]
    assert (root / "images" / "a.tif").read_bytes() == b"x" * 5000
    assert (root / "downloads" / "tiny.tar.gz").read_bytes() == body
    fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)
    assert len(Files.ranges) == 1  # verified and unpacked once: nothing fetched again


def test_a_tampered_download_is_refused_and_not_unpacked(tmp_path, server):
    body = _archive()
    Files.files["tiny.tar.gz"] = body[:-10] + b"0123456789"
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match="download refused"):
        fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)
    assert not (root / "images").exists() and not list((root / "downloads").iterdir())


def test_the_shipped_manifests_are_complete():
    names = sorted(p.stem for p in MANIFESTS.glob("*.yaml"))
    assert names == ["ben-ge-8k", "hanna2021", "smoke-plumes"]
    for name in names:
        manifest = Manifest.read(MANIFESTS / f"{name}.yaml")
        assert manifest.doi.startswith("10.5281/zenodo.") and manifest.files


def test_a_download_left_unverified_by_a_killed_run_is_checked_before_unpacking(tmp_path, server):
    body = _archive()
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    tampered = body[:-10] + b"0123456789"
    (root / "downloads" / "tiny.tar.gz").write_bytes(tampered)  # renamed, never verified
    with pytest.raises(DatasetError, match="downloads/tiny.tar.gz: download refused.*sha256"):
        fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)
    assert not (root / "images").exists() and not list((root / "downloads").iterdir())
    assert Files.ranges == []  # nothing was requested: the file on disk was judged
    Files.files["tiny.tar.gz"] = body
    fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)  # the rerun
    assert (root / "images" / "a.tif").read_bytes() == b"x" * 5000


def test_a_resumed_partial_that_ends_wrong_is_refused(tmp_path, server):
    body = _archive()
    Files.files["tiny.tar.gz"] = body
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "tiny.tar.gz.partial").write_bytes(b"\0" * 100)  # wrong first bytes
    with pytest.raises(DatasetError, match="download refused"):
        fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)
    assert Files.ranges == ["bytes=100-"]
    assert not (root / "images").exists() and not list((root / "downloads").iterdir())


def test_a_complete_partial_answered_416_is_verified_and_an_oversized_one_refused(
    tmp_path, server
):
    body = _archive()
    Files.files["tiny.tar.gz"] = body
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "tiny.tar.gz.partial").write_bytes(body)
    fetch(_manifest(tmp_path, body), root, base_url=server, progress=False)
    assert (root / "images" / "a.tif").is_file() and Files.ranges == [f"bytes={len(body)}-"]
    other = tmp_path / "other"
    (other / "downloads").mkdir(parents=True)
    (other / "downloads" / "tiny.tar.gz.partial").write_bytes(body + b"extra")
    with pytest.raises(DatasetError, match=f"size {len(body) + 5} ≠ {len(body)}"):
        fetch(_manifest(tmp_path, body), other, base_url=server, progress=False)


def test_an_archive_of_another_layout_is_named_with_the_missing_entries(tmp_path, server):
    body = _archive()
    Files.files["tiny.tar.gz"] = body
    manifest = _manifest(tmp_path, body, expected=["images", "annotations"])
    with pytest.raises(DatasetError, match=r"\['annotations'\] are missing.*layout differs"):
        fetch(manifest, tmp_path / "data", base_url=server, progress=False)


def test_a_failed_request_names_the_url_and_keeps_nothing(tmp_path, server):
    body = _archive()
    with pytest.raises(DatasetError, match=r"tiny.tar.gz: download failed \(404"):
        fetch(_manifest(tmp_path, body), tmp_path / "data", base_url=server, progress=False)
    assert not list((tmp_path / "data" / "downloads").iterdir())


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.tar.gz", "a/b.tar.gz", ""])
def test_a_manifest_file_name_that_is_a_path_is_refused_before_any_request(
    tmp_path, server, name
):
    with pytest.raises(UserError, match="file name .* is not a safe id"):
        fetch(_manifest(tmp_path, b"x", name=name), tmp_path / "data", base_url=server)
    assert Files.ranges == [] and not (tmp_path / "data").exists()
