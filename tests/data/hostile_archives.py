"""Generators of hostile and broken archives: members that try to write outside the folder
they are unpacked into, in every tar flavour and as zip."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

TAR_MODES = {".tar": "w", ".tar.gz": "w:gz", ".tbz2": "w:bz2", ".txz": "w:xz"}
ATTACKS = ("dotdot", "absolute", "symlink", "hardlink", "symlink_dir")


def _file(name: str, content: bytes = b"owned") -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, io.BytesIO(content)


def hostile_tar(path: Path, attack: str, outside: Path) -> Path:
    """A tar (compression from ``path``'s suffix) holding a harmless ``ok.txt`` and one
    member that tries to write ``outside`` (an absolute path of a file to create):
    ``../`` names, an absolute name, a symlink or hard link pointing there, or a
    symlinked folder followed by a file written through it."""
    suffix = next(s for s in TAR_MODES if path.name.endswith(s))
    with tarfile.open(path, TAR_MODES[suffix]) as tar:
        tar.addfile(*_file("ok.txt", b"fine"))
        if attack == "dotdot":
            depth = len(path.parent.parts) + 2
            tar.addfile(*_file("../" * depth + str(outside).lstrip("/")))
        elif attack == "absolute":
            tar.addfile(*_file(str(outside)))
        elif attack in ("symlink", "hardlink"):
            link = tarfile.TarInfo("escape")
            link.type = tarfile.SYMTYPE if attack == "symlink" else tarfile.LNKTYPE
            link.linkname = str(outside)
            tar.addfile(link)
            tar.addfile(*_file("escape"))  # writes through the link
        elif attack == "symlink_dir":
            link = tarfile.TarInfo("door")
            link.type = tarfile.SYMTYPE
            link.linkname = str(outside.parent)
            tar.addfile(link)
            tar.addfile(*_file(f"door/{outside.name}"))
        else:
            raise ValueError(attack)
    return path


def hostile_zip(path: Path, attack: str, outside: Path) -> Path:
    """A zip holding ``ok.txt`` and a member named to reach ``outside`` (``../`` or an
    absolute name), or a symbolic link member pointing there."""
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("ok.txt", b"fine")
        if attack == "dotdot":
            bundle.writestr("../" * (len(path.parent.parts) + 2) + str(outside).lstrip("/"), b"x")
        elif attack == "absolute":
            bundle.writestr(str(outside), b"owned")
        elif attack in ("symlink", "hardlink", "symlink_dir"):
            link = zipfile.ZipInfo("escape")
            link.external_attr = (0o120777 << 16)
            bundle.writestr(link, str(outside))
        else:
            raise ValueError(attack)
    return path


def benign_tar(path: Path) -> Path:
    """A tar.gz of ``images/a.tif`` and ``labels/a.json``."""
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(*_file("images/a.tif", b"x" * 5000))
        tar.addfile(*_file("labels/a.json", b"{}"))
    return path
