import io
import tarfile
import zipfile

import pytest

from plantwatch.errors import UserError
from plantwatch.files.archives import unpack_safely
from tests.data.hostile_archives import ATTACKS, TAR_MODES, benign_tar, hostile_tar, hostile_zip

FORMATS = (*TAR_MODES, ".zip")


def _everything(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_hostile_archive_writes_nothing_outside_its_folder(tmp_path, suffix, attack):
    outside = tmp_path / "elsewhere" / "owned.txt"
    outside.parent.mkdir()
    archives = tmp_path / "downloads"
    archives.mkdir()
    make = hostile_zip if suffix == ".zip" else hostile_tar
    archive = make(archives / f"evil{suffix}", attack, outside)
    root = tmp_path / "root"
    root.mkdir()
    (root / "kept.txt").write_text("mine")
    with pytest.raises(UserError, match=r"evil.*refused.*delete it"):
        unpack_safely(archive, root)
    assert not outside.exists() and not list(outside.parent.iterdir())
    assert _everything(root) == ["kept.txt"]  # nothing half-unpacked, no scratch folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads", "elsewhere", "root"]


@pytest.mark.parametrize("suffix", [".tar.gz", ".tbz2", ".txz"])
def test_a_truncated_archive_ends_in_one_error_and_leaves_the_folder_as_it_was(tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    with tarfile.open(whole, TAR_MODES[suffix]) as tar:
        for i in range(20):
            info = tarfile.TarInfo(f"images/{i}.tif")
            data = bytes(range(256)) * 40 * (i + 1)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    root = tmp_path / "root"
    with pytest.raises(UserError, match=rf"{cut}: corrupt or truncated archive.*delete it"):
        unpack_safely(cut, root)
    assert _everything(root) == []
    unpack_safely(whole, root)
    assert len(list((root / "images").iterdir())) == 20


def test_archives_merge_into_the_folder_and_links_inside_it_are_kept(tmp_path):
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    (root / "images" / "old.tif").write_bytes(b"old")
    unpack_safely(benign_tar(tmp_path / "a.tar.gz"), root)
    assert _everything(root) == ["images", "images/a.tif", "images/old.tif", "labels",
                                 "labels/a.json"]  # fmt: skip
    inner = tmp_path / "linked.tar"
    with tarfile.open(inner, "w") as tar:
        link = tarfile.TarInfo("labels/same.json")
        link.type, link.linkname = tarfile.SYMTYPE, "a.json"
        tar.addfile(link)
    unpack_safely(inner, root)
    assert (root / "labels" / "same.json").read_text() == "{}"


def test_a_file_that_is_no_archive_is_named(tmp_path):
    text = tmp_path / "page.tar.gz"
    text.write_text("<html>rate limited</html>")
    with pytest.raises(UserError, match="page.tar.gz: neither a tar nor a zip archive"):
        unpack_safely(text, tmp_path / "root")


def test_a_python_without_the_data_filter_is_refused(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter")
    with pytest.raises(UserError, match="lacks tarfile's 'data' filter.*upgrade Python"):
        unpack_safely(benign_tar(tmp_path / "a.tar.gz"), tmp_path / "root")
    assert not (tmp_path / "root" / "images").exists()


def test_a_zip_unpacks_its_folders_and_files(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("images/positive/", b"")
        bundle.writestr("images/positive/a.tif", b"x" * 300)
        bundle.writestr("labels.csv", b"obs_id\na\n")
    unpack_safely(archive, tmp_path / "root")
    assert _everything(tmp_path / "root") == ["images", "images/positive",
                                              "images/positive/a.tif", "labels.csv"]  # fmt: skip
    assert (tmp_path / "root" / "images" / "positive" / "a.tif").read_bytes() == b"x" * 300
