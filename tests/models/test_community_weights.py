"""Weights from the community (SSL4EO-S12 as torchgeo distributes them) become zoo entries
that the plant model loads by band name; older entries (encoder.pt) are converted."""

import dataclasses
import hashlib
from pathlib import Path

import pytest
import torch
import yaml

from plantwatch.bands import L1C_BAND_NAMES, L2A_BAND_NAMES
from plantwatch.cli import main
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.models.community_weights import encoder_keys
from plantwatch.models.encoders import build_encoder, sha256
from plantwatch.models.zoo import list_zoo
from plantwatch.studies.spec import Study
from plantwatch.tasks.multitask_task import MultiTaskTask
from plantwatch.training.cli import PlantwatchCLI
from tests.data.fakes import tiny_cli_args

REPO = Path(__file__).parents[2]


def ssl4eo_layout(folder: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A random ResNet-18 state dict with the keys and shapes of torchgeo's SSL4EO-S12 file
    (timm names, 13 input bands, a 1000-class ``fc``), named with its sha256 as torchgeo
    names it: (file, the encoder's tensors)."""
    torch.manual_seed(0)
    state = build_encoder("resnet18", len(L1C_BAND_NAMES)).state_dict()
    full = {**state, "fc.weight": torch.randn(1000, 512), "fc.bias": torch.zeros(1000)}
    draft = folder / "draft.pth"
    torch.save(full, draft)
    digest = hashlib.sha256(draft.read_bytes()).hexdigest()
    return draft.rename(folder / f"resnet18_sentinel2_all_moco-{digest[:8]}.pth"), state


@pytest.fixture
def imported(tmp_path, monkeypatch):
    """The fake SSL4EO-S12 file imported as zoo entry ``ssl4eo-s12-resnet18``."""
    monkeypatch.setenv("PLANTWATCH_ZOO", str(tmp_path / "zoo"))
    path, state = ssl4eo_layout(tmp_path)
    main(["zoo", "import", str(path), "ssl4eo-s12-resnet18",
          "--preset", "ssl4eo-s12-resnet18-moco"])  # fmt: skip
    return tmp_path / "zoo" / "ssl4eo-s12-resnet18", path, state


def test_the_card_says_method_data_bands_normalisation_licence_and_checksum(imported):
    folder, path, _ = imported
    card = yaml.safe_load((folder / "card.yaml").read_text())
    assert card["encoder"] == "resnet18" and card["bands"] == list(L1C_BAND_NAMES)
    assert card["normalisation"]["std"] == [10000.0] * 13 and card["normalisation"]["mean"][0] == 0
    assert "MoCo" in card["method"] and "SSL4EO-S12" in card["data"]
    assert card["licence"].startswith("CC-BY-4.0") and "torchgeo" in card["source"]
    assert card["sha256"] == sha256(folder / "encoder.safetensors")
    assert card["imported_sha256"] == sha256(path) and not (folder / "encoder.pt").exists()
    assert list_zoo()[["name", "checksum"]].values.tolist() == [["ssl4eo-s12-resnet18", "ok"]]


def test_the_plant_model_loads_it_by_band_name_and_reads_reflectance_over_10000(
    imported, tiny_dataset
):
    _, _, state = imported
    with pytest.warns(UserWarning, match=r"new: \[\], dropped: \['B10'\]"):
        task = MultiTaskTask(encoder_checkpoint="ssl4eo-s12-resnet18")
    kept = [L1C_BAND_NAMES.index(b) for b in L2A_BAND_NAMES]
    expected = state["conv1.weight"][:, kept] * 13 / 12
    torch.testing.assert_close(task.model.encoder.conv1.weight, expected)
    torch.testing.assert_close(task.model.encoder.layer4[1].conv2.weight,
                               state["layer4.1.conv2.weight"])  # fmt: skip
    data = PlantObservations(tiny_dataset, split="train")
    task.set_statistics(data.statistics, data.aux_columns)
    assert task.input_mean.abs().max() == 0 and (task.input_std == 10000).all()


def test_a_file_whose_content_does_not_match_its_name_is_refused(tmp_path, capsys):
    path, _ = ssl4eo_layout(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])  # a cut download
    with pytest.raises(SystemExit) as stop:
        main(["zoo", "import", str(path), "cut", "--preset", "ssl4eo-s12-resnet18-moco",
              "--zoo", str(tmp_path / "zoo")])  # fmt: skip
    assert stop.value.code == 2 and "download it again" in capsys.readouterr().err
    assert not (tmp_path / "zoo").exists()


def test_weights_without_a_declaration_or_of_another_encoder_are_refused(tmp_path, capsys):
    path, _ = ssl4eo_layout(tmp_path)
    for extra, message in ((["--encoder", "resnet18"], "say the weights' bands"),
                           (["--preset", "ssl4eo-s12-resnet50-moco"], "do not fit a resnet50")):
        with pytest.raises(SystemExit):
            main(["zoo", "import", str(path), "x", "--zoo", str(tmp_path / "zoo"), *extra])
        assert message in capsys.readouterr().err


def test_training_prefixes_and_classifier_heads_are_dropped():
    raw = {"state_dict": {"module.encoder_q.conv1.weight": torch.ones(1),
                          "module.encoder_q.fc.0.weight": torch.ones(1), "queue": torch.ones(1)}}
    assert list(encoder_keys(raw)) == ["conv1.weight", "queue"]


def test_an_imported_encoder_fine_tunes_as_a_variant_of_the_label_efficiency_study(
    imported, tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO)
    study = Study.from_yaml(REPO / "experiments" / "studies" / "label_efficiency.yaml")
    variant = {"model": {"init_args": {"encoder_checkpoint": "ssl4eo-s12-resnet18"}}}
    study = dataclasses.replace(study, variants={"ssl4eo_finetune": variant})
    study.write_variant_configs(tmp_path)
    run = study.runs()[0]
    args = [*study.run_args(run, tmp_path), *tiny_cli_args(tmp_path / "ds", tmp_path),
            "--trainer.fast_dev_run=true", "--data.init_args.label_fraction=1.0"]  # fmt: skip
    with pytest.warns(UserWarning, match="dropped: \\['B10'\\]"):
        cli = PlantwatchCLI(args=args, run=False)
    before = cli.model.model.encoder.layer1[0].conv1.weight.detach().clone()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.state.finished
    assert not torch.equal(before, cli.model.model.encoder.layer1[0].conv1.weight)


def test_an_entry_of_an_older_plantwatch_is_converted_to_safetensors(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANTWATCH_ZOO", str(tmp_path))
    old = tmp_path / "old"
    old.mkdir()
    state = build_encoder("resnet18", 4).state_dict()
    torch.save(state, old / "encoder.pt")
    card = {"name": "old", "method": "SimCLRTask", "encoder": "resnet18",
            "bands": ["B02", "B03", "B04", "B08"]}  # fmt: skip
    card["sha256"] = sha256(old / "encoder.pt")
    (old / "card.yaml").write_text(yaml.safe_dump(card))
    assert list_zoo()["checksum"].tolist()[0].startswith("OLD FORMAT: plantwatch zoo import")
    with pytest.raises(FileNotFoundError, match="convert it with plantwatch zoo import"):
        MultiTaskTask(encoder_checkpoint="old", bands=card["bands"])
    main(["zoo", "import", str(old), "old", "--overwrite"])
    converted = yaml.safe_load((old / "card.yaml").read_text())
    assert converted["method"] == "SimCLRTask" and converted["bands"] == card["bands"]
    assert not (old / "encoder.pt").exists() and list_zoo()["checksum"].tolist() == ["ok"]
    task = MultiTaskTask(encoder_checkpoint="old", bands=card["bands"])
    torch.testing.assert_close(task.model.encoder.conv1.weight, state["conv1.weight"])
