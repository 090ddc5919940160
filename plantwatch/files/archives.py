"""Unpacking downloaded archives so that nothing in them can write outside their folder.

`unpack_safely` recognises the archive by its content (every tar flavour: plain, gzip,
bzip2, xz; zip), unpacks it into a temporary folder inside the destination, and only when
every member is out moves the result into place. Tar members must have relative names and
pass Python's ``data`` filter (no ``..``, no links that leave the folder, no devices); zip
members are checked by name (no absolute paths, no ``..``) and may not be symbolic links.
A Python without the ``data`` filter (before 3.10.12 / 3.11.4) is refused rather than
trusted. A hostile, corrupt or truncated archive ends in one `UserError` that names the
file to delete; the destination is left as it was.
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from plantwatch.errors import UserError
from plantwatch.files.ids import inside

READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, lzma.LZMAError,
               zlib.error)  # fmt: skip


def unpack_safely(archive: str | Path, destination: str | Path) -> Path:
    """Unpack ``archive`` (tar, tar.gz/tgz, tar.bz2/tbz2, tar.xz/txz or zip) into
    ``destination``, merging with what is there; returns ``destination``.

    Raises:
        UserError: not an archive, a member that would leave the folder (names it), a
            corrupt or truncated file, or a Python without tarfile's ``data`` filter.
    """
    archive, destination = Path(archive), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=destination))
    try:
        try:
            if zipfile.is_zipfile(archive):
                _unzip(archive, scratch)
            elif tarfile.is_tarfile(archive):
                _untar(archive, scratch)
            else:
                raise UserError(
                    f"{archive}: neither a tar nor a zip archive; delete it and download it again"
                )
        except MemberRefused as error:
            raise UserError(
                f"{archive}: refused, a member would leave the folder ({error}); the archive "
                "is hostile or broken — delete it and check its source"
            ) from None
        except READ_ERRORS as error:
            raise UserError(
                f"{archive}: corrupt or truncated archive ({type(error).__name__}: {error}); "
                "delete it and rerun to download it again"
            ) from None
        _merge(scratch, destination)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return destination


class MemberRefused(Exception):
    """A member of an archive that would leave its folder, or a link."""


def _untar(archive: Path, target: Path) -> None:
    if not hasattr(tarfile, "data_filter"):
        raise UserError(
            f"{archive}: this Python lacks tarfile's 'data' filter (3.10.12+, 3.11.4+, 3.12+), "
            "without which an archive can write outside its folder; upgrade Python"
        )
    with tarfile.open(archive) as tar:  # compression detected from the content
        absolute = [m.name for m in tar.getmembers() if m.name.startswith(("/", "\\"))]
        if absolute:  # the filter would strip the slash; such an archive is not trusted
            raise MemberRefused(f"member {absolute[0]!r} has an absolute path")
        try:
            tar.extractall(target, filter="data")
        except tarfile.FilterError as error:
            raise MemberRefused(str(error)) from None


def _unzip(archive: Path, target: Path) -> None:
    """Write each member to a path built and checked here (no links, nothing outside)."""
    with zipfile.ZipFile(archive) as bundle:
        bundle.testzip()
        for member in bundle.infolist():
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts:
                raise MemberRefused(f"member {member.filename!r} leaves the folder")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise MemberRefused(f"member {member.filename!r} is a symbolic link")
            path = inside(target, Path(*name.parts))
            if member.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, path.open("wb") as sink:
                shutil.copyfileobj(source, sink)


def _merge(source: Path, target: Path) -> None:
    """Move every entry of ``source`` into ``target``; folders are merged, files replaced."""
    for entry in source.iterdir():
        there = target / entry.name
        if entry.is_dir() and not entry.is_symlink() and there.is_dir():
            _merge(entry, there)
        else:
            if there.is_dir() and not there.is_symlink():
                shutil.rmtree(there)
            os.replace(entry, there)
