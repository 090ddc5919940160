"""Ordinary mistakes of a new user, each ended by one line on stderr and exit status 2.

Every row is (a name, a function that prepares the inputs in a folder and returns the
command's arguments, a part of the expected message). The test fails on any traceback, on a
message that does not say what is wrong, and on another exit status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from plantwatch.cli import main
from plantwatch.tasks.multitask_task import MultiTaskTask
from tests.data.fakes import tiny_cli_args

Prepare = Callable[[Path, Path], list[str]]  # (scratch folder, tiny dataset) → arguments


def _non_empty(tmp: Path, _: Path) -> list[str]:
    (tmp / "ds").mkdir()
    (tmp / "ds" / "notes.txt").write_text("mine")
    return ["synth", "plants", str(tmp / "ds"), "--plants", "3", "--per-plant", "1",
            "--size", "16", "--quiet"]  # fmt: skip


def _study(tmp: Path, _: Path) -> list[str]:
    (tmp / "study.yaml").write_text("name: s\nbase: [quickstart]\n")
    return ["compare", str(tmp / "study.yaml"), "--root", str(tmp / "runs")]


def _study_escaping(tmp: Path, _: Path) -> list[str]:
    (tmp / "study.yaml").write_text(
        "name: ../../outside\nbase: [quickstart]\nseeds: [0]\n"
        "variants: {a: {}}\n"
    )
    return ["compare", str(tmp / "study.yaml"), "--root", str(tmp / "runs")]


def _text_checkpoint(tmp: Path, _: Path) -> list[str]:
    (tmp / "model.ckpt").write_text("a text file")
    return ["zoo", "export", str(tmp / "model.ckpt"), "mine", "--zoo", str(tmp / "zoo")]


def _empty_csv(command: list[str]) -> Prepare:
    def prepare(tmp: Path, _: Path) -> list[str]:
        (tmp / "empty.csv").write_text("")
        return [a.replace("EMPTY", str(tmp / "empty.csv")).replace("TMP", str(tmp))
                for a in command]  # fmt: skip

    return prepare


def _other_model(tmp: Path, dataset: Path) -> list[str]:
    torch.save({"state_dict": MultiTaskTask(tasks=["power"]).state_dict()}, tmp / "power.ckpt")
    return ["test", *tiny_cli_args(dataset, tmp / "runs"), "--ckpt_path", str(tmp / "power.ckpt")]


def _missing_root(tmp: Path, _: Path) -> list[str]:
    return ["fit", "--config", "quickstart", "--config",
            "experiments/data/downloaded.yaml", f"--data.init_args.root={tmp / 'typo'}",
            "--trainer.max_epochs=1"]  # fmt: skip


def _registry(tmp: Path, rows: str) -> Path:
    path = tmp / "plants.csv"
    path.write_text("plant_id,name,country,fuel_type,capacity_mw,unit_codes,lon,lat\n" + rows)
    return path


def _download(*extra: str, rows: str = "P1,A,Poland,lignite,900,U1,19.3,51.3\n") -> Prepare:
    def prepare(tmp: Path, _: Path) -> list[str]:
        (tmp / "empty.csv").write_text("")
        return ["download", str(_registry(tmp, rows)), str(tmp / "ds"), "--start",
                "2021-06-01", "--end", "2021-06-02", "--quiet",
                *(a.replace("TMP", str(tmp)) for a in extra)]  # fmt: skip

    return prepare


def _truncated_info(tmp: Path, dataset: Path) -> list[str]:
    return ["preview", str(_copy_with(tmp, dataset, "dataset.json", '{"format": "plant'))]


def _copy_with(tmp: Path, dataset: Path, name: str, content: str) -> Path:
    import shutil

    copy = shutil.copytree(dataset, tmp / "copy")
    (copy / name).write_text(content)
    return copy


def _predictions_without_columns(tmp: Path, _: Path) -> list[str]:
    (tmp / "p.csv").write_text("obs_id,power_mw\na,1\n")
    return ["aggregate", str(tmp / "p.csv"), str(tmp / "out")]


def _predictions_escaping(tmp: Path, _: Path) -> list[str]:
    (tmp / "p.csv").write_text("obs_id,plant_id,datetime,power_mw\na,../../x,2021-01-01,1\n")
    return ["aggregate", str(tmp / "p.csv"), str(tmp / "out")]


def _malformed_manifest(tmp: Path, _: Path) -> list[str]:
    (tmp / "m.yaml").write_text(json.dumps({"name": "x"}))
    return ["data", "fetch", str(tmp / "m.yaml"), str(tmp / "root")]


def _fixed(*arguments: str) -> Prepare:
    return lambda tmp, _: [a.replace("TMP", str(tmp)) for a in arguments]


MISTAKES: list[tuple[str, Prepare, str]] = [
    ("no plants", _fixed("synth", "plants", "TMP/ds", "--plants", "0"),
     "argument --plants: '0' is not a whole number ≥ 1"),
    ("too few plants to split", _fixed("synth", "plants", "TMP/ds", "--plants", "2"),
     "at least 3 plants"),
    ("mask share above 1", _fixed("synth", "plants", "TMP/ds", "--mask-fraction", "2.5"),
     "'2.5' is not a share between 0 and 1"),
    ("ben-ge side not a multiple of 6", _fixed("synth", "benge", "TMP/b", "--size", "100"),
     "'100' is not a multiple of 6"),
    ("synth into a folder of other files", _non_empty, "not empty and holds no dataset"),
    ("study without variants and seeds", _study, "missing keys ['variants', 'seeds']"),
    ("study name that is a path", _study_escaping, "name '../../outside' is not a safe id"),
    ("zoo export of a text file", _text_checkpoint, "not a readable PyTorch checkpoint"),
    ("registry jrc of an empty CSV", _empty_csv(["registry", "jrc", "EMPTY", "TMP/r.geojson"]),
     "empty.csv: empty"),
    ("download with empty generation CSV",
     _download("--generation", "TMP/empty.csv"), "empty.csv: empty"),
    ("test with another model's checkpoint", _other_model, "the checkpoint is of another model"),
    ("bench data with batch size 0", _fixed("bench", "data", "--batch-size", "0"),
     "'0' is not a whole number ≥ 1"),
    ("fit on a mistyped data root", _missing_root, "typo: not found"),
    ("download of negative size", _download("--size", "-16"), "'-16' is not a whole number ≥ 1"),
    ("download of size 0", _download("--size", "0"), "'0' is not a whole number ≥ 1"),
    ("registry row without an id", _download(rows=",A,Poland,lignite,900,U1,19.3,51.3\n"),
     "plant_id '' is not a safe id"),
    ("registry row without coordinates", _download(rows="P1,A,Poland,lignite,900,U1,,\n"),
     "plants ['P1'] have no valid location"),
    ("checkpoint URL", _fixed("validate", "--config", "quickstart",
                              "--ckpt_path", "https://example.org/x.ckpt"),
     "loads checkpoints from local files only"),
    ("preview of a truncated dataset.json", _truncated_info, "dataset.json: not valid JSON"),
    ("aggregate of a table without times", _predictions_without_columns, "no ['plant_id', "),
    ("aggregate of a plant id that is a path", _predictions_escaping,
     "plant_id '../../x' is not a safe id"),
    ("aggregate level of 90", _fixed("aggregate", "TMP/p.csv", "TMP/o", "--level", "90"),
     "'90' is not a number strictly between 0 and 1"),
    ("fetch of an unknown dataset", _fixed("data", "fetch", "smoke-plume", "TMP/r"),
     "no such manifest; known datasets"),
    ("fetch with a malformed manifest", _malformed_manifest, "missing keys"),
    ("convert a folder of no images", _fixed("data", "convert", "smoke-plumes", "TMP", "TMP/o"),
     "no images/**/positive/*.tif"),
    ("registry that does not exist", _fixed("registry", "show", "TMP/none.geojson"),
     "registry file not found"),
    ("compare of a missing study", _fixed("compare", "TMP/none.yaml"), "no such study file"),
]


@pytest.mark.parametrize(("prepare", "expected"), [m[1:] for m in MISTAKES],
                         ids=[m[0] for m in MISTAKES])  # fmt: skip
def test_a_mistake_ends_in_one_line_and_exit_status_2(
    prepare: Prepare, expected: str, tmp_path: Path, tiny_dataset: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("SH_CLIENT_ID", "id")
    monkeypatch.setenv("SH_CLIENT_SECRET", "secret")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    arguments = prepare(tmp_path, tiny_dataset)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(arguments)
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert stop.value.code == 2, error
    assert expected in error.strip().splitlines()[-1], error
