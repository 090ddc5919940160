import json

import numpy as np
import pytest
import rasterio

from plantwatch.cli import main
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.geotiff import write_geotiff
from plantwatch.data.tools.check import check_dataset, detect_layout
from tests.data.benge_fake import write_benge_fake
from tests.data.fakes import copy_dataset
from tests.data.scene_fakes import label_task, write_hanna_fake, write_smoke_plume_fake


def test_layouts_are_recognised(tmp_path, tiny_dataset):
    assert detect_layout(tiny_dataset) == "canonical"
    assert detect_layout(write_smoke_plume_fake(tmp_path / "s")) == "smoke-plumes"
    assert detect_layout(write_hanna_fake(tmp_path / "h")) == "hanna2021"
    assert detect_layout(write_benge_fake(tmp_path / "b")) == "ben-ge"
    with pytest.raises(DatasetError, match="no known dataset layout"):
        detect_layout(tmp_path)


def test_every_problem_of_a_scene_folder_is_listed(tmp_path):
    src = write_smoke_plume_fake(tmp_path / "src")
    positive = src / "images" / "subset1" / "positive"
    with rasterio.open(positive / "plume_small.tif") as image:
        crs, transform = image.crs, image.transform
    write_geotiff(positive / "twelve_bands.tif", np.ones((12, 120, 120), np.uint16), crs, transform)
    nan = np.ones((13, 120, 120), np.float32)
    nan[0, 0, 0] = np.nan
    write_geotiff(positive / "with_nan.tif", nan, crs, transform)
    write_geotiff(positive / "too_big.tif", np.ones((13, 200, 200), np.uint16), crs, transform)
    labels = src / "segmentation_labels" / "subset1"
    (labels / "orphan.json").write_text(
        json.dumps(label_task("gone.tif", [[[0, 0], [1, 0], [1, 1]]]))
    )
    layout, problems = check_dataset(src, progress=False)
    text = "\n".join(problems)
    assert layout == "smoke-plumes"
    for expected in ("twelve_bands.tif: has 12 bands, expected 13", "with_nan.tif: contains NaN",
                     "too_big.tif: 200 × 200 px", "labels gone.tif, which is not under images/",
                     "plume_unlabelled.tif: positive image without a label file"):  # fmt: skip
        assert expected in text, text


def test_hanna_table_problems_are_listed_with_the_images(tmp_path):
    src = write_hanna_fake(tmp_path / "src", fuel="Nuclear")
    _, problems = check_dataset(src, progress=False)
    text = "\n".join(problems)
    assert "unknown fuel type 'Nuclear'" in text
    assert "no table row for image 55_2019-01-01T10:00:00.tif" in text


def test_the_cli_converts_and_checks(tmp_path, capsys):
    src = write_smoke_plume_fake(tmp_path / "src")
    main(["data", "convert", "smoke-plumes", str(src), str(tmp_path / "out"), "--quiet"])
    main(["data", "check", str(tmp_path / "out"), "--quiet"])
    assert "canonical layout, 0 problems" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(src), "--quiet"])
    assert (
        exit_info.value.code == 1 and "smoke-plumes layout, 1 problems" in capsys.readouterr().out
    )


def test_bad_input_ends_the_command_with_its_message_not_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["data", "check", str(tmp_path), "--quiet"])
    error = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(error.splitlines()) == 1
    assert error.startswith("plantwatch data: ") and "no known dataset layout" in error


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [("observations.csv", "", "observations.csv: empty; expected an observation table"),
     ("dataset.json", '{"format": "plant', "dataset.json: not valid JSON")],
)  # fmt: skip
def test_a_damaged_table_or_record_is_listed_as_a_problem(
    tiny_dataset, tmp_path, capsys, name, content, problem
):
    damaged = copy_dataset(tiny_dataset, tmp_path / "copy")
    (damaged / name).write_text(content)
    with pytest.raises(SystemExit) as stop:
        main(["data", "check", str(damaged), "--quiet"])
    out = capsys.readouterr().out
    assert stop.value.code == 1 and problem in out and "canonical layout, 1 problems" in out
