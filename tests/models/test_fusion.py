import pytest
import segmentation_models_pytorch as smp
import torch

from plantwatch.models.fusion import EarlyFusion, LateFusionEncoder

MODALITIES = {"image": 12, "image_s1": 2, "dem": 1, "extra": 3}


def _inputs(keys, batch=2, size=64):
    torch.manual_seed(0)
    values = {k: torch.randn(batch, MODALITIES[k], size, size) for k in keys}
    values["aux"] = torch.randn(batch, 4)
    return values


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_early_fusion_stacks_channels_and_broadcasts_scalars(n):
    keys = list(MODALITIES)[:n]
    fusion = EarlyFusion({k: MODALITIES[k] for k in keys}, {"aux": 4})
    inputs = _inputs(keys)
    out = fusion(inputs)
    assert (
        out.shape
        == (2, sum(MODALITIES[k] for k in keys) + 4, 64, 64)
        == (2, fusion.out_channels, 64, 64)
    )
    assert torch.equal(out[:, : MODALITIES["image"]], inputs["image"])
    assert torch.equal(out[:, -4:, 5, 7], inputs["aux"])  # constant channels


@pytest.mark.parametrize("fusion", ["concat", "sum"])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_late_fusion_looks_like_an_smp_encoder(n, fusion):
    keys = list(MODALITIES)[:n]
    encoder = LateFusionEncoder({k: MODALITIES[k] for k in keys}, {"aux": 4}, fusion=fusion)
    features = encoder(_inputs(keys))
    widths = (64, 64, 128, 256, 512)
    assert encoder.out_channels == (sum(MODALITIES[k] for k in keys) + 4, *widths)
    assert [f.shape[1] for f in features] == list(encoder.out_channels)
    assert [f.shape[-1] for f in features] == [64, 32, 16, 8, 4, 2]
    decoder = smp.decoders.unet.decoder.UnetDecoder(encoder.out_channels, (64, 32, 16, 16, 16))
    assert decoder(features).shape == (2, 16, 64, 64)


def test_shared_weights_use_one_encoder_behind_adapters():
    encoder = LateFusionEncoder({"image": 12, "image_s1": 2}, shared_weights=True)
    assert encoder.branches["image"] is encoder.branches["image_s1"]
    assert [f.shape[1] for f in encoder(_inputs(["image", "image_s1"]))][1:] == [
        64,
        64,
        128,
        256,
        512,
    ]


def test_a_branch_exports_into_a_plain_encoder_with_identical_outputs():
    fused = LateFusionEncoder({"image": 12, "image_s1": 2}).eval()
    plain = smp.encoders.get_encoder("resnet18", in_channels=12, weights=None).eval()
    plain.load_state_dict(fused.export_branch("image"))
    image = _inputs(["image"])["image"]
    with torch.no_grad():
        for mine, theirs in zip(fused.branches["image"](image), plain(image), strict=True):
            assert torch.equal(mine, theirs)
    with pytest.raises(KeyError, match="no branch 'dem'"):
        fused.export_branch("dem")
