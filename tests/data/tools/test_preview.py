import numpy as np
from PIL import Image

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.tools.preview import render_preview, rgb_composite


def test_rgb_composite_stretches_the_true_colour_bands():
    reflectance = np.zeros((12, 8, 8), np.float32)
    reflectance[3] = np.linspace(0, 0.3, 64).reshape(8, 8)  # B04 → red channel
    rgb = rgb_composite(reflectance, L2A_BAND_NAMES)
    assert rgb.shape == (8, 8, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert rgb[..., 0].max() > 0.9 and rgb[..., 2].max() < 0.05


def test_preview_writes_a_png_grid(tiny_dataset, tmp_path):
    out = render_preview(tiny_dataset, tmp_path / "p" / "preview.png", count=6, columns=3)
    with Image.open(out) as png:
        assert png.format == "PNG" and png.width > png.height > 300
        pixels = np.asarray(png.convert("RGB"))
    reddish = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    assert reddish.sum() > 20  # the plume outlines are drawn
