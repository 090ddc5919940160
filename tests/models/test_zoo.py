import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from plantwatch.cli import main
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.errors import UserError
from plantwatch.models.zoo import export_encoder, list_zoo, logged_scores
from plantwatch.tasks.multitask_task import MultiTaskTask
from plantwatch.training.cli import PlantwatchCLI
from tests.data.fakes import tiny_cli_args


@pytest.fixture(scope="module")
def run(tiny_dataset, tmp_path_factory):
    """A short real run: its folder holds config.yaml and checkpoints/ (best and last)."""
    runs = tmp_path_factory.mktemp("runs")
    same = {"plants": 12, "per_plant": 4, "size": 48, "mask_fraction": 0.5, "seed": 7}
    args = [*tiny_cli_args(tiny_dataset, runs, **same), "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
            "--trainer.logger.init_args.name=zoo"]  # fmt: skip
    cli = PlantwatchCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return runs / "zoo" / "version_0"


def test_an_exported_encoder_reloads_bit_identically_by_zoo_name(
    run, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PLANTWATCH_ZOO", str(tmp_path / "zoo"))
    main(["zoo", "export", str(run), "tiny-multitask"])
    card = yaml.safe_load((tmp_path / "zoo" / "tiny-multitask" / "card.yaml").read_text())
    assert card["method"] == "MultiTaskTask" and card["encoder"] == "resnet18"
    assert len(card["bands"]) == 12 and card["normalisation"]["channels"] == card["bands"]
    assert card["epochs"] >= 1 and "val/selection_loss" in card["metrics"] and card["config"]
    assert card["probe"] == {}  # a supervised run has no k-NN probe
    best = torch.load(card["checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
    task = MultiTaskTask(encoder_checkpoint="tiny-multitask")
    for name, value in task.model.encoder.state_dict().items():
        assert torch.equal(value, best[f"model.encoder.{name}"]), name
    assert list_zoo()[["name", "checksum"]].values.tolist() == [["tiny-multitask", "ok"]]
    with pytest.raises(SystemExit) as stop:
        main(["zoo", "export", str(run), "tiny-multitask"])
    assert stop.value.code == 2 and "has an entry" in capsys.readouterr().err


def test_fine_tuning_normalises_with_the_cards_statistics(run, tiny_dataset, tmp_path):
    folder = export_encoder(run, "stats", zoo=tmp_path)
    card = yaml.safe_load((folder / "card.yaml").read_text())
    card["normalisation"]["mean"][0] = 0.123  # as if pretrained on brighter data
    data = PlantObservations(tiny_dataset, split="train")
    (folder / "card.yaml").write_text(yaml.safe_dump(card))  # the checksum covers the weights
    own = MultiTaskTask(encoder_checkpoint=str(folder), use_encoder_statistics=False)
    task = MultiTaskTask(encoder_checkpoint=str(folder))
    for model in (task, own):
        model.set_statistics(data.statistics, data.aux_columns)
    assert task.input_mean[0].item() == pytest.approx(0.123)
    assert own.input_mean[0].item() == pytest.approx(float(data.statistics.of(["B01"])[0][0]))


def test_a_tampered_entry_is_refused_and_listed_as_a_mismatch(run, tmp_path):
    folder = export_encoder(run, "tampered", zoo=tmp_path)
    state = load_file(folder / "encoder.safetensors")
    state["conv1.weight"] += 1e-4
    save_file(state, folder / "encoder.safetensors")
    assert list_zoo(tmp_path)["checksum"].tolist() == ["MISMATCH"]
    with pytest.raises(ValueError, match="refused"):
        MultiTaskTask(encoder_checkpoint=str(folder))


def test_a_14_channel_s1_s2_encoder_adapts_by_name_into_a_12_band_model(tmp_path):
    fused = MultiTaskTask(tasks=["land_cover"], extra_modalities={"image_s1": ["VV", "VH"]})
    assert fused.model.encoder.conv1.weight.shape[1] == 14
    path = tmp_path / "fused.ckpt"
    torch.save({"state_dict": fused.state_dict(), "hyper_parameters": dict(fused.hparams)}, path)
    with pytest.warns(UserWarning, match=r"by name \(new: \[\], dropped: \['VV', 'VH'\]\)"):
        plant = MultiTaskTask(encoder_checkpoint=str(path))
    kept = fused.model.encoder.conv1.weight[:, :12] * 14 / 12
    torch.testing.assert_close(plant.model.encoder.conv1.weight, kept)


def test_the_s2_branch_of_a_cross_modal_encoder_records_its_own_channels(tmp_path):
    from plantwatch.tasks.ssl import CrossModalTask

    pretrained = CrossModalTask(extra_modalities={"image_s1": ["VV", "VH"]})
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    torch.save({"state_dict": pretrained.state_dict(),
                "hyper_parameters": dict(pretrained.hparams)}, path)  # fmt: skip
    for branch, channels in (("image", 12), ("image_s1", 2)):
        folder = export_encoder(tmp_path / "run", branch, branch=branch, zoo=tmp_path / "zoo")
        assert len(yaml.safe_load((folder / "card.yaml").read_text())["bands"]) == channels
    plant = MultiTaskTask(encoder_checkpoint=str(tmp_path / "zoo" / "image"))
    mine, theirs = plant.model.encoder.state_dict(), pretrained.branches["image"].state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in mine.items())


def test_export_refuses_a_text_file_without_advising_unsafe_loading(tmp_path, capsys):
    text = tmp_path / "notes.ckpt"
    text.write_text("hello")
    with pytest.raises(SystemExit) as stop:
        main(["zoo", "export", str(text), "notes", "--zoo", str(tmp_path / "zoo")])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and "not a readable PyTorch checkpoint" in error
    assert "weights_only" not in error and not (tmp_path / "zoo").exists()


def test_export_refuses_weights_that_do_not_fit_the_architecture_the_card_would_name(tmp_path):
    task = MultiTaskTask(encoder="resnet34", tasks=["power"])
    hparams = {**dict(task.hparams), "encoder": "resnet18"}  # a card would claim resnet18
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": task.state_dict(), "hyper_parameters": hparams}, path)
    with pytest.raises(UserError, match="do not fit a resnet18 encoder with 12 input channels"):
        export_encoder(path, "liar", zoo=tmp_path / "zoo")
    assert not (tmp_path / "zoo").exists()


@pytest.mark.parametrize("name", ["../outside", "/abs", "a/b", "", ".."])
def test_an_entry_name_that_is_a_path_is_refused(run, tmp_path, name):
    with pytest.raises(UserError, match="zoo entry name .* is not a safe id"):
        export_encoder(run, name, zoo=tmp_path / "zoo")
    assert not (tmp_path / "zoo").exists() and not (tmp_path / "outside").exists()


def test_a_malformed_card_is_listed_as_unreadable(run, tmp_path):
    export_encoder(run, "good", zoo=tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "card.yaml").write_text("name: [unclosed")
    listing = list_zoo(tmp_path)[["name", "checksum"]].values.tolist()
    assert listing == [["broken", "UNREADABLE card"], ["good", "ok"]]


def test_a_cards_probe_scores_are_those_logged_at_its_checkpoints_step(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(tmp_path) as writer:
        for step, accuracy in ((9, 0.2), (19, 0.45), (29, 0.3)):
            writer.add_scalar("val/knn_accuracy", accuracy, step)
            writer.add_scalar("val/knn_chance", 0.09, step)
    tags = ("val/knn_accuracy", "val/knn_chance", "val/other")
    assert logged_scores(tmp_path, 19, tags) == {"knn_accuracy": 0.45, "knn_chance": 0.09}
    assert logged_scores(tmp_path, 25, tags)["knn_accuracy"] == 0.45  # last before step 25
    assert logged_scores(tmp_path, 5, tags) == {}
    assert logged_scores(tmp_path / "elsewhere", 19, tags) == {}
