import argparse
import json
from importlib import metadata

import pandas as pd
import pytest

from plantwatch.cli import build_parser, main
from plantwatch.data.errors import DatasetError
from tests.data.fakes import copy_dataset, make_dataset


def test_synth_plants_writes_the_canonical_format(tmp_path, capsys):
    out = tmp_path / "ds"
    main(["synth", "plants", str(out), "--plants", "4", "--per-plant", "2", "--size", "32",
          "--product", "S2L1C", "--mask-fraction", "0.5", "--seed", "3", "--quiet"])  # fmt: skip
    assert "wrote 8 observations of 4 plants" in capsys.readouterr().out
    info = json.loads((out / "dataset.json").read_text())
    assert info["product"] == "S2L1C" and info["generator"]["seed"] == 3
    frame = pd.read_csv(out / "observations.csv", keep_default_na=False)
    assert len(frame) == 8 and (frame["mask"] != "").sum() == 4
    for name in ("plants.geojson", "splits/train.txt", "splits/val.txt", "splits/test.txt"):
        assert (out / name).is_file()


def test_preview_defaults_to_the_dataset_folder(tiny_dataset, tmp_path, capsys):
    main(["preview", str(tiny_dataset), "--out", str(tmp_path / "x.png"), "--count", "2"])
    assert (tmp_path / "x.png").is_file() and "x.png" in capsys.readouterr().out


def test_demo_stacks_its_arguments_on_the_quickstart(monkeypatch):
    calls = []
    monkeypatch.setattr("plantwatch.demo.run_demo", lambda **kw: calls.append(kw))
    main(["demo", "--trainer.max_epochs=1"])
    assert calls == [{"overrides": ["--trainer.max_epochs=1"]}]


def test_lightning_commands_are_listed_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("fit", "validate", "test", "predict", "synth", "demo"))


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit):
        main(["synth", "plants", "x", "--product", "S3"])
    assert "invalid choice" in capsys.readouterr().err


def test_check_lists_every_bad_observation(tiny_dataset, tmp_path, capsys):
    main(["data", "check", str(tiny_dataset), "--quiet"])
    assert "canonical layout, 0 problems" in capsys.readouterr().out
    damaged = copy_dataset(tiny_dataset, tmp_path / "copy")
    images = sorted((damaged / "images").glob("*.tif"))
    images[0].write_bytes(b"not a tiff")
    images[1].unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(damaged), "--quiet"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 1 and "canonical layout, 2 problems" in out
    assert (
        f"{images[0].name}: not a readable GeoTIFF" in out
        and f"{images[1].name}: file not found" in out
    )


def test_data_pack_copies_the_split_sets_it_is_asked_for(tmp_path, capsys):
    from plantwatch.data.format.splits import read_split
    from plantwatch.data.packing.reader import PackedDataset

    source = make_dataset(tmp_path / "ds", plants=6, per_plant=2, size=32)
    main(["data", "pack", str(source), str(tmp_path / "packed"), "--split-seed", "none", "4",
          "--shard-size", "5", "--workers", "0", "--quiet"])  # fmt: skip
    assert "data.init_args.pack: true" in capsys.readouterr().out
    for seed in (None, 4):
        packed = PackedDataset(tmp_path / "packed", "train", split_seed=seed)
        assert list(packed.labels()["obs_id"]) == read_split(source, "train", seed)
    with pytest.raises(DatasetError, match="split set 7 is not packed.*--split-seed 7"):
        PackedDataset(tmp_path / "packed", "train", split_seed=7)


def _leaf_parsers(parser: argparse.ArgumentParser, name: str = "plantwatch"):
    """(command, parser) of every command that runs something."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield name, parser
    for group in groups:
        for child, sub in group.choices.items():
            yield from _leaf_parsers(sub, f"{name} {child}")


def test_every_command_has_examples_and_every_option_help_and_its_default():
    leaves = dict(_leaf_parsers(build_parser()))
    assert "plantwatch data fetch" in leaves and "plantwatch zoo list" in leaves
    for command, parser in leaves.items():
        if command.split()[1] in ("fit", "validate", "test", "predict", "demo"):
            continue  # LightningCLI's help, checked below
        assert parser.epilog and parser.epilog.startswith("examples:"), command
        for line in parser.epilog.splitlines()[1:]:
            assert line.strip().startswith(command), (command, line)
        for action in parser._actions:
            assert action.help, (command, action.dest)
        text = parser.format_help()
        assert all(f"(default: {a.default})" in " ".join(text.split())
                   for a in parser._actions if a.option_strings and a.default not in
                   (None, False, argparse.SUPPRESS)), command  # fmt: skip


def test_version_and_fit_help_that_points_at_the_model_and_data_help(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"plantwatch {metadata.version('plantwatch')}"
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--model.help MultiTaskTask" in text and "--data.help DataModule" in text
    assert "--config quickstart" in text and "--print_config" in text
