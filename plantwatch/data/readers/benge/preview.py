"""Preview of ben-ge patches: Sentinel-2 true colour, Sentinel-1 VV (dB), elevation (m) and
the WorldCover land-cover map (in its official colours) side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from plantwatch.bands import WORLDCOVER_CLASSES, WORLDCOVER_COLOURS
from plantwatch.data.loading.sample import MASK_UNLABELLED
from plantwatch.data.readers.benge.dataset import MODALITY_KEYS, BenGe
from plantwatch.data.tools.preview import rgb_composite


def render_benge_preview(root: str | Path, out: str | Path, count: int = 4) -> Path:
    """Save a PNG with one row per patch (the first ``count``) and one column per modality."""
    dataset = BenGe(root, modalities=MODALITY_KEYS, targets=("lulc",))
    rows = min(count, len(dataset))
    figure = Figure(figsize=(12, 3.1 * rows), layout="constrained")
    axes = figure.subplots(rows, 4, squeeze=False)
    land_cover = ListedColormap(WORLDCOVER_COLOURS)
    for row in range(rows):
        sample = dataset[row]
        lulc = sample["lulc"].numpy().astype(float)
        lulc[lulc == MASK_UNLABELLED] = np.nan
        panels = (
            (rgb_composite(sample["image"].numpy(), dataset.bands), {}, "S2 true colour"),
            (sample["image_s1"][0].numpy(), {"cmap": "gray"}, "S1 VV (dB)"),
            (sample["dem"][0].numpy(), {"cmap": "terrain"}, "elevation (m)"),
            (lulc, {"cmap": land_cover, "vmin": -0.5, "vmax": 10.5}, "WorldCover"),
        )
        for ax, (image, style, title) in zip(axes[row], panels, strict=True):
            shown = ax.imshow(image, interpolation="nearest", **style)
            ax.set_axis_off()
            ax.set_title(title if row else f"{title}\n{sample['obs_id']}", fontsize=9)
            if title not in ("S2 true colour", "WorldCover"):
                figure.colorbar(shown, ax=ax, shrink=0.8)
    names = list(WORLDCOVER_CLASSES.values())
    figure.legend([Patch(color=c) for c in WORLDCOVER_COLOURS], names, loc="outside lower center",
                  ncols=6, fontsize=8)  # fmt: skip
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    return out
