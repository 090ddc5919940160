"""How close synthetic imagery comes to real patches: per-band mean and standard deviation of
Sentinel-2 reflectance and Sentinel-1 backscatter, side by side.

Both sides are read the same way: every ``*_<band>.tif`` below a folder (BigEarthNet's and
ben-ge's patch folders, each band at its own resolution), Sentinel-2 DN / 10 000 →
reflectance, Sentinel-1 in dB as stored. The reference defaults to the six real BigEarthNet
patches that the PyPI package ``bigearthnet-common`` ships (a test dependency).

    plantwatch synth realism data/ben-ge-synthetic
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.files.archives import unpack_safely
from plantwatch.markdown_table import markdown_table

S1_BANDS: tuple[str, ...] = ("VV", "VH")


def band_statistics(folders: Sequence[str | Path]) -> pd.DataFrame:
    """Mean, std and patch count per band over every pixel of every patch below ``folders``.

    Returns a frame indexed by band (``L2A_BAND_NAMES`` then VV, VH) with columns ``mean``,
    ``std`` (reflectance 0–1 for S2, dB for S1) and ``patches``; a band without files is NaN.
    """
    rows = {}
    for band in (*L2A_BAND_NAMES, *S1_BANDS):
        paths = sorted(p for f in folders for p in Path(f).rglob(f"*_{band}.tif"))
        values = [read_geotiff(p)[0].astype(np.float64).ravel() for p in paths]
        data = np.concatenate(values) if values else np.array([np.nan])
        if band not in S1_BANDS:
            data = data / 10_000.0
        rows[band] = {"mean": data.mean(), "std": data.std(), "patches": len(paths)}
    return pd.DataFrame.from_dict(rows, orient="index")


def bigearthnet_examples(target: Path) -> list[Path]:
    """Unpack the BigEarthNet S1 and S2 example archives of ``bigearthnet-common`` into
    ``target``; returns the two folders."""
    try:
        package = files("bigearthnet_common")
    except ModuleNotFoundError:
        raise DatasetError(
            "the reference patches come from the package bigearthnet-common (pip install "
            "bigearthnet-common), or pass folders of real patches with --real"
        ) from None
    folders = []
    for sensor in ("S1", "S2"):
        unpack_safely(Path(str(package / f"BigEarthNet-{sensor}-Example.tar.bz2")), target)
        folders.append(target / f"BigEarthNet-{sensor}-Example")
    return folders


def compare_bands(
    synthetic: Sequence[str | Path], real: Sequence[str | Path] | None = None
) -> pd.DataFrame:
    """Per band: real and synthetic mean and std, and the ratio of the means (S2) or their
    difference in dB (S1). ``real``: folders of real patches (None: BigEarthNet's examples)."""
    with tempfile.TemporaryDirectory() as scratch:
        reference = band_statistics(real or bigearthnet_examples(Path(scratch)))
    ours = band_statistics(synthetic)
    table = pd.DataFrame({
        "real mean": reference["mean"], "real std": reference["std"],
        "synthetic mean": ours["mean"], "synthetic std": ours["std"],
    })  # fmt: skip
    s1 = table.index.isin(S1_BANDS)
    table["synthetic vs real"] = np.where(
        s1,
        table["synthetic mean"] - table["real mean"],
        table["synthetic mean"] / table["real mean"],
    )
    table.attrs["patches"] = {"real": int(reference["patches"].max()),
                              "synthetic": int(ours["patches"].max())}  # fmt: skip
    return table


def markdown(table: pd.DataFrame) -> str:
    """The comparison as a Markdown table (S2 as reflectance, S1 in dB)."""
    rows = []
    for band, row in table.iterrows():
        s1 = band in S1_BANDS
        cells = [f"{row[c]:.2f}" if s1 else f"{row[c]:.4f}" for c in table.columns[:4]]
        change = row["synthetic vs real"]
        rows.append([str(band), *cells, f"{change:+.1f} dB" if s1 else f"×{change:.2f}"])
    lines = markdown_table(["band", "real mean", "real std", "synthetic mean", "synthetic std",
                            "synthetic vs real"], rows, right=5)  # fmt: skip
    counts = table.attrs.get("patches", {})
    if counts:
        lines.append(f"\n{counts['real']} real and {counts['synthetic']} synthetic patches.")
    return "\n".join(lines)
