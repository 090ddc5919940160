import json

import numpy as np
import pytest

from plantwatch.data.errors import DatasetError
from plantwatch.data.readers.labelstudio import (
    image_name,
    rasterize_polygons,
    read_label_folder,
    read_labels,
)
from tests.data.scene_fakes import SQUARE, label_task


def test_a_percent_polygon_burns_the_hand_computed_pixels():
    # 10 × 10 px; the triangle (0, 0), (5.5, 0), (0, 5.5) px holds the pixel centres
    # (c + 0.5, r + 0.5) with c + r ≤ 4: 5 + 4 + 3 + 2 + 1 pixels.
    triangle = np.array([[0.0, 0.0], [55.0, 0.0], [0.0, 55.0]])
    expected = np.zeros((10, 10), np.uint8)
    for row in range(5):
        expected[row, : 5 - row] = 1
    mask = rasterize_polygons([triangle], 10, 10, all_touched=False)
    np.testing.assert_array_equal(mask, expected)
    # x is the column and y the row, in percent of width and height respectively
    wide = rasterize_polygons([np.array(SQUARE)], 60, 120, all_touched=False)
    assert wide.sum() == 30 * 15 and wide[30:45, 30:60].all()
    touched = rasterize_polygons([triangle], 10, 10, all_touched=True)
    assert (touched >= expected).all() and touched.sum() > expected.sum()


def test_upload_names_map_to_their_geotiff():
    assert image_name("/data/upload/1f3a9c2e-S2_2019-03-04_x-y.png") == "S2_2019-03-04_x-y.tif"
    assert image_name("scene.png") == "scene.tif"


def test_labels_merge_per_image_and_skip_degenerate_polygons(tmp_path):
    task = label_task("a.tif", [SQUARE, [[1.0, 1.0], [2.0, 2.0]]])
    newer = {"data": {"image": "/data/upload/abcdef12-a.png"},
             "annotations": [{"result": [{"value": {"points": SQUARE}}]}]}  # fmt: skip
    (tmp_path / "one.json").write_text(json.dumps(task))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.json").write_text(json.dumps([newer]))
    (tmp_path / "three.json").write_text(json.dumps(label_task("a.tif", [SQUARE])))
    labels = read_label_folder(tmp_path)
    assert sorted(labels) == [((), "a.tif"), (("sub",), "a.tif")]  # by label sub-folder
    assert len(labels[(), "a.tif"].polygons) == 2 and labels[(), "a.tif"].skipped == 1
    assert len(labels[("sub",), "a.tif"].polygons) == 1


@pytest.mark.parametrize("content", ["{not json", json.dumps({"completions": []})])
def test_a_bad_label_file_names_itself(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DatasetError, match="bad.json"):
        read_labels(path)
