import pytest
import torch

from plantwatch import physics
from plantwatch.models.multitask_unet import MultiTaskUNet
from plantwatch.task_registry import TASKS, TaskSpec, register_task


@pytest.fixture(scope="module")
def model() -> MultiTaskUNet:
    torch.manual_seed(0)
    return MultiTaskUNet(in_channels=12, aux_features=4).eval()


@pytest.mark.parametrize("size", [120, 100, 64, 37])
def test_every_task_comes_out_at_input_resolution(model, size):
    with torch.no_grad():
        out = model(torch.randn(2, 12, size, size), torch.randn(2, 4))
    assert out["plume"].shape == (2, size, size)
    assert out["fuel"].shape == (2, physics.NUM_FUELS)
    assert out["power"].shape == out["co2"].shape == (2,)


def test_only_the_selected_heads_are_built():
    power_only = MultiTaskUNet(in_channels=3, tasks=["power"])
    assert set(power_only.heads) == {"power"} and len(power_only.dense_heads) == 0
    assert not hasattr(power_only, "decoder")
    assert set(power_only(torch.randn(1, 3, 64, 64))) == {"power"}
    plume_only = MultiTaskUNet(in_channels=3, tasks=["plume"])
    assert len(plume_only.heads) == 0 and hasattr(plume_only, "decoder")
    assert set(plume_only.dense_heads) == {"plume"}


def test_power_and_co2_are_physical_for_random_inputs(model):
    torch.manual_seed(1)
    capacity = torch.tensor([50.0, 400.0, 1500.0, 4000.0, float("nan"), 0.0] * 2)
    with torch.no_grad():
        for scale in (0.1, 1.0, 30.0):
            out = model(scale * torch.randn(12, 12, 48, 48), scale * torch.randn(12, 4), capacity)
            known = capacity.nan_to_num(0) > 0
            assert (out["power"] >= 0).all() and (out["co2"] >= 0).all()
            assert (out["power"][known] <= capacity[known] + 1e-3).all()
            assert torch.isfinite(out["co2"]).all()


def test_physics_co2_is_power_times_the_expected_emission_factor():
    torch.manual_seed(2)
    net = MultiTaskUNet(in_channels=4, co2_mode="physics").eval()
    with torch.no_grad():
        out = net(torch.randn(3, 4, 32, 32))
    expected = physics.co2_from_fuel_probs(out["power"], out["fuel"].softmax(dim=1))
    torch.testing.assert_close(out["co2"], expected)
    assert "co2" not in net.heads


def test_corrected_co2_stays_within_twenty_percent_of_physics(model):
    with torch.no_grad():
        out = model(torch.randn(4, 12, 32, 32), torch.randn(4, 4))
    physical = physics.co2_from_fuel_probs(out["power"], out["fuel"].softmax(dim=1))
    ratio = out["co2"] / physical
    assert ((ratio >= 0.8 - 1e-5) & (ratio <= 1.2 + 1e-5)).all()


def test_invalid_task_combinations_are_refused():
    with pytest.raises(ValueError, match="needs the fuel and power tasks"):
        MultiTaskUNet(in_channels=3, tasks=["co2"], co2_mode="physics")
    with pytest.raises(ValueError, match="non-empty selection of the registered tasks"):
        MultiTaskUNet(in_channels=3, tasks=["smoke"])
    with pytest.raises(ValueError, match=r"aux must be \[B, 4\]"):
        MultiTaskUNet(in_channels=3, tasks=["fuel"], aux_features=4)(torch.randn(2, 3, 32, 32))


def test_every_kind_gets_its_head_and_output_shape():
    specs = [
        TaskSpec(
            "toy_lulc", "multiclass_segmentation", "lulc", "has_lulc", classes=("a", "b", "c")
        ),
        TaskSpec("toy_zone", "multiclass", "zone", "has_zone", classes=("x", "y")),
        TaskSpec("toy_labels", "multilabel", "labels", "has_labels", classes=("p", "q", "r", "s")),
        TaskSpec("toy_temperature", "regression", "temp", "has_temp", unit="°C", scale=10.0),
    ]
    for spec in specs:
        register_task(spec)
    try:
        net = MultiTaskUNet(in_channels=3, tasks=["plume", *(s.name for s in specs)])
        out = net(torch.randn(2, 3, 40, 40))
        assert out["toy_lulc"].shape == (2, 3, 40, 40) and out["plume"].shape == (2, 40, 40)
        assert out["toy_zone"].shape == (2, 2) and out["toy_labels"].shape == (2, 4)
        assert out["toy_temperature"].shape == (2,)
    finally:
        for spec in specs:
            TASKS.pop(spec.name)


def test_decoder_features_feed_the_global_heads():
    net = MultiTaskUNet(in_channels=3, tasks=["plume", "fuel"], decoder_features=True)
    assert net.heads["fuel"][0].in_features == 512 + 16
    assert net(torch.randn(2, 3, 32, 32))["fuel"].shape == (2, physics.NUM_FUELS)


def test_plume_pooling_feeds_the_heads_what_the_plume_head_sees_without_bending_it():
    net = MultiTaskUNet(in_channels=3, tasks=["plume", "power"], plume_pooling=True)
    assert net.heads["power"][0].in_features == 512 + 16 + 3 + 2  # + plume features, area
    net(torch.randn(2, 3, 32, 32))["power"].sum().backward()
    plume_head = list(net.dense_heads["plume"].parameters())
    assert all(p.grad is None or not p.grad.any() for p in plume_head)
    assert any(p.grad is not None and p.grad.any() for p in net.decoder.parameters())
    with pytest.raises(ValueError, match="plume_pooling needs a binary segmentation task"):
        MultiTaskUNet(in_channels=3, tasks=["power"], plume_pooling=True)


def test_detached_plume_features_keep_the_power_loss_out_of_the_decoder():
    net = MultiTaskUNet(in_channels=3, tasks=["plume", "power"], plume_pooling=True,
                        detach_plume_features=True)  # fmt: skip
    net(torch.randn(2, 3, 32, 32))["power"].sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in net.decoder.parameters())
    assert any(p.grad is not None and p.grad.any() for p in net.encoder.parameters())
    with pytest.raises(ValueError, match="detach_plume_features needs plume_pooling"):
        MultiTaskUNet(in_channels=3, tasks=["plume", "power"], detach_plume_features=True)


@pytest.mark.parametrize("fusion", ["early", "late"])
def test_extra_modalities_are_fused_early_or_late(fusion):
    net = MultiTaskUNet(in_channels=12, tasks=["land_cover", "climate_zone"],
                        extra_inputs={"image_s1": 2, "dem": 1}, fusion=fusion)  # fmt: skip
    extras = {"image_s1": torch.randn(2, 2, 40, 40), "dem": torch.randn(2, 1, 40, 40)}
    out = net(torch.randn(2, 12, 40, 40), extras=extras)  # 40 px: padded to the stride
    assert out["land_cover"].shape == (2, 11, 40, 40) and out["climate_zone"].shape == (2, 30)
    assert (net.early is not None) == (fusion == "early")
    with pytest.raises(ValueError, match=r"fuses \['dem'\]"):
        net(torch.randn(2, 12, 40, 40), extras={"image_s1": extras["image_s1"]})


@pytest.mark.parametrize("fusion", ["early", "late"])
def test_scalar_modalities_enter_the_encoder_as_constant_channels(fusion):
    net = MultiTaskUNet(in_channels=12, tasks=["land_cover"], extra_inputs={"image_s1": 2},
                        scalar_inputs={"aux": 4, "season": 1}, fusion=fusion)  # fmt: skip
    extras = {"image_s1": torch.randn(2, 2, 32, 32), "aux": torch.randn(2, 4),
              "season": torch.zeros(2, 1)}  # fmt: skip
    image = torch.randn(2, 12, 32, 32)
    net.eval()
    first = net(image, extras=extras)["land_cover"]
    assert first.shape == (2, 11, 32, 32)
    changed = net(image, extras={**extras, "season": torch.ones(2, 1)})["land_cover"]
    assert not torch.allclose(first, changed)  # the season reaches the output
    with pytest.raises(ValueError, match=r"fuses \['season'\]"):
        net(image, extras={"image_s1": extras["image_s1"], "aux": extras["aux"]})


def test_without_the_image_a_model_reads_sentinel_1_alone():
    net = MultiTaskUNet(in_channels=0, tasks=["land_cover"], extra_inputs={"image_s1": 2})
    net.eval()
    s1 = torch.randn(2, 2, 32, 32)
    out = net(torch.randn(2, 12, 32, 32), extras={"image_s1": s1})["land_cover"]
    again = net(torch.randn(2, 12, 32, 32), extras={"image_s1": s1})["land_cover"]
    assert out.shape == (2, 11, 32, 32) and torch.equal(out, again)  # the image is unused
    with pytest.raises(ValueError, match="no spatial input"):
        MultiTaskUNet(in_channels=0, tasks=["land_cover"])
