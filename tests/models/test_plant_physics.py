import torch

from plantwatch import physics
from plantwatch.models.plant_physics import load_factor, physics_co2, power_from_load_factor


def test_the_load_factor_is_bounded_but_never_stops_learning():
    raw = torch.tensor([-10.0, 0.0, 1.0, 10.0], requires_grad=True)
    factor = load_factor(raw)
    assert factor.tolist() == [0.0, 0.5, 0.75, 1.0]
    (factor * torch.tensor([1.0, 1.0, 1.0, 1.0])).sum().backward()
    assert (raw.grad == 0.25).all()  # a saturated prediction still gets its gradient


def test_power_is_capacity_times_load_factor_where_the_capacity_is_known():
    raw = torch.tensor([0.0, 0.0, 0.0])
    capacity = torch.tensor([800.0, float("nan"), 0.0])
    power = power_from_load_factor(raw, capacity, scale_mw=1000.0)
    unknown = torch.nn.functional.softplus(torch.tensor(0.0)) * 1000.0
    torch.testing.assert_close(power, torch.stack([torch.tensor(400.0), unknown, unknown]))


def test_corrected_physics_co2_stays_within_twenty_percent():
    power, logits = torch.tensor([500.0, 500.0]), torch.tensor([[5.0, 0, 0, 0], [0, 0, 5.0, 0]])
    plain = physics_co2(power, logits, None)
    torch.testing.assert_close(plain, physics.co2_from_fuel_probs(power, logits.softmax(dim=1)))
    corrected = physics_co2(power, logits, torch.tensor([100.0, -100.0]))
    torch.testing.assert_close(corrected / plain, torch.tensor([1.2, 0.8]))
