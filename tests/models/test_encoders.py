import pytest
import torch
import yaml
from safetensors.torch import save_file

from plantwatch.models.encoders import (
    build_encoder,
    load_encoder_weights,
    read_encoder_checkpoint,
    sha256,
)

BANDS = ["B02", "B03", "B04", "B08"]


@pytest.fixture(scope="module")
def trained() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_encoder("resnet18", in_channels=len(BANDS))


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, msg=name)


def test_encoders_build_offline_with_random_weights(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = build_encoder("resnet18", in_channels=13)
    assert encoder.out_channels[-1] == 512
    assert encoder.state_dict()["conv1.weight"].shape[1] == 13


def test_plain_state_dict_round_trip(trained, tmp_path):
    torch.save(trained.state_dict(), tmp_path / "encoder.pth")
    fresh = build_encoder("resnet18", in_channels=4)
    load_encoder_weights(fresh, tmp_path / "encoder.pth", BANDS)
    assert_same_weights(fresh, trained)


def test_lightning_checkpoint_prefixes_are_stripped_and_bands_read(trained, tmp_path):
    state = {f"model.encoder.{k}": v for k, v in trained.state_dict().items()}
    state["model.heads.fuel.0.weight"] = torch.zeros(3, 3)
    torch.save({"state_dict": state, "hyper_parameters": {"bands": BANDS}}, tmp_path / "run.ckpt")
    weights, bands = read_encoder_checkpoint(tmp_path / "run.ckpt")
    assert bands == BANDS and "conv1.weight" in weights and not any("heads" in k for k in weights)
    fresh = build_encoder("resnet18", in_channels=4)
    load_encoder_weights(fresh, tmp_path / "run.ckpt", BANDS)
    assert_same_weights(fresh, trained)


def write_entry(folder, encoder, card) -> None:
    folder.mkdir(parents=True)
    save_file(encoder.state_dict(), folder / "encoder.safetensors")
    card = {**card, "sha256": sha256(folder / "encoder.safetensors")}
    (folder / "card.yaml").write_text(yaml.safe_dump(card))


def test_zoo_folder_with_card(trained, tmp_path):
    zoo = tmp_path / "models" / "demo-encoder"
    write_entry(zoo, trained, {"encoder": "resnet18", "bands": BANDS})
    fresh = build_encoder("resnet18", in_channels=4)
    load_encoder_weights(fresh, zoo, BANDS)
    assert_same_weights(fresh, trained)


def test_zoo_entries_load_by_name_and_a_tampered_one_is_refused(trained, tmp_path, monkeypatch):
    entry = tmp_path / "zoo" / "ssl-s2"
    write_entry(entry, trained, {"bands": BANDS})
    monkeypatch.setenv("PLANTWATCH_ZOO", str(tmp_path / "zoo"))
    fresh = build_encoder("resnet18", in_channels=4)
    load_encoder_weights(fresh, "ssl-s2", BANDS)
    assert_same_weights(fresh, trained)
    state = trained.state_dict()
    state["conv1.weight"] = state["conv1.weight"] + 1e-3
    save_file(state, entry / "encoder.safetensors")
    with pytest.raises(ValueError, match="refused"):
        load_encoder_weights(fresh, "ssl-s2", BANDS)


def test_band_mismatch_adapts_the_first_convolution_by_name(trained, tmp_path):
    torch.save(trained.state_dict(), tmp_path / "encoder.pt")
    target = ["B04", "B03", "B02", "B8A", "B11"]
    fresh = build_encoder("resnet18", in_channels=len(target))
    with pytest.warns(UserWarning, match=r"new: \['B8A', 'B11'\], dropped: \['B08'\]"):
        load_encoder_weights(fresh, tmp_path / "encoder.pt", target, source_bands=BANDS)
    old = trained.state_dict()["conv1.weight"]
    new = fresh.state_dict()["conv1.weight"]
    scale = len(BANDS) / len(target)
    torch.testing.assert_close(new[:, 0], old[:, 2] * scale)  # B04 moved from index 2 to 0
    torch.testing.assert_close(new[:, 2], old[:, 0] * scale)  # B02
    torch.testing.assert_close(new[:, 3], old.mean(dim=1) * scale)  # new band: mean kernel
    torch.testing.assert_close(
        fresh.state_dict()["layer4.1.conv2.weight"],
        trained.state_dict()["layer4.1.conv2.weight"],
    )


def test_missing_checkpoint_and_wrong_architecture_are_explained(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such encoder checkpoint"):
        load_encoder_weights(trained, tmp_path / "nope.pt", BANDS)
    (tmp_path / "zoo").mkdir()
    with pytest.raises(FileNotFoundError, match="holds card.yaml and encoder.safetensors"):
        load_encoder_weights(trained, tmp_path / "zoo", BANDS)
    torch.save(build_encoder("resnet34", in_channels=4).state_dict(), tmp_path / "r34.pt")
    with pytest.raises(ValueError, match="another encoder architecture"):
        load_encoder_weights(build_encoder("resnet18", in_channels=4), tmp_path / "r34.pt", BANDS)
