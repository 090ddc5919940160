import pytest
import segmentation_models_pytorch as smp
import torch

from plantwatch.models.multitask_unet import MultiTaskUNet
from plantwatch.models.reference_fusion import (
    SiameseEncoder,
    reference_channels,
    reference_input,
)

MODES = ("early", "difference", "siamese")


def test_the_stacked_inputs_hold_scene_reference_or_change_and_the_flag():
    image, reference = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    present = torch.tensor([True, False])
    early = reference_input(image, reference, present, "early")
    difference = reference_input(image, reference, present, "difference")
    assert reference_channels(3, "early") == reference_channels(3, "difference") == 7
    assert early.shape == difference.shape == (2, 7, 8, 8)
    assert torch.equal(early[0, 3:6], reference[0]) and torch.equal(early[:, :3], image)
    assert torch.equal(difference[0, 3:6], image[0] - reference[0])
    # no reference: the scene stands in, so there is no change to see, and the flag says so
    assert torch.equal(early[1, 3:6], image[1]) and torch.count_nonzero(difference[1, 3:6]) == 0
    assert early[:, 6].amax(dim=(1, 2)).tolist() == [1.0, 0.0]
    pair = reference_input(image, reference, present, "siamese")
    assert pair.shape == (2, 6, 8, 8) and reference_channels(3, "siamese") == 3
    assert reference_input(image, reference, present, "none") is image


def test_the_siamese_encoder_reads_both_with_one_set_of_weights():
    torch.manual_seed(0)
    inner = smp.encoders.get_encoder("resnet18", in_channels=3, weights=None)
    siamese = SiameseEncoder(inner).eval()
    own = sum(p.numel() for p in inner.parameters())
    fuse = sum(p.numel() for p in siamese.fuse.parameters())
    assert sum(p.numel() for p in siamese.parameters()) == own + fuse  # no second encoder
    assert siamese.out_channels == (6, *inner.out_channels[1:])
    scene = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        same = siamese(torch.cat([scene, scene], 1))
        other = siamese(torch.cat([scene, torch.randn(2, 3, 32, 32)], 1))
        alone = inner(scene)
    for level, fuse in enumerate(siamese.fuse, start=1):  # no change: the scene's features
        expected = fuse(torch.cat([alone[level], torch.zeros_like(alone[level])], 1))
        torch.testing.assert_close(same[level], expected, rtol=1e-4, atol=1e-5)
        assert same[level].shape == other[level].shape == alone[level].shape
    assert not torch.allclose(same[-1], other[-1])


@pytest.mark.parametrize("mode", MODES)
def test_every_reference_mode_reads_the_reference(mode):
    torch.manual_seed(0)
    model = MultiTaskUNet(in_channels=4, aux_features=2, plume_pooling=True, reference=mode).eval()
    image = torch.randn(2, 4, 32, 32)
    extras = {"reference": torch.randn(2, 4, 32, 32), "has_reference": torch.tensor([True, True])}
    with torch.no_grad():
        out = model(image, torch.randn(2, 2), extras=extras)
        moved = model(image, torch.randn(2, 2),
                      extras={**extras, "reference": extras["reference"] + 1.0})  # fmt: skip
    assert out["plume"].shape == (2, 32, 32) and out["fuel"].shape == (2, 4)
    assert not torch.allclose(out["plume"], moved["plume"])
    with pytest.raises(ValueError, match="reference"):
        model(image, torch.randn(2, 2))


def test_reference_settings_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="siamese"):
        MultiTaskUNet(in_channels=4, extra_inputs={"dem": 1}, reference="siamese")
    with pytest.raises(ValueError, match="in_channels"):
        MultiTaskUNet(in_channels=0, extra_inputs={"dem": 1}, reference="early")
    fused = MultiTaskUNet(in_channels=4, tasks=["plume"], extra_inputs={"dem": 1},
                          reference="difference").eval()  # fmt: skip
    extras = {"dem": torch.randn(1, 1, 32, 32), "reference": torch.randn(1, 4, 32, 32),
              "has_reference": torch.tensor([False])}  # fmt: skip
    assert fused(torch.randn(1, 4, 32, 32), extras=extras)["plume"].shape == (1, 32, 32)
