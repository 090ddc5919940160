"""Fuel classes, CO₂ emission factors and capacity bounds of thermal power plants.

Emission factors are in t CO₂ per MWh of *electricity* (net). Each is derived as

    EF_el = EF_fuel [kg CO₂/TJ fuel, NCV] × 0.0036 [TJ/MWh] / 1000 / η_net

from the IPCC 2006 default CO₂ emission factors for stationary combustion (2006 IPCC
Guidelines for National Greenhouse Gas Inventories, Vol. 2, Ch. 2, Table 2.2) and typical
net electrical efficiencies of European fleets (IEA/EEA orders of magnitude: lignite 36 %,
hard coal 39 %, gas 50 % for a CCGT/OCGT mix, peat 35 %, residual fuel oil 38 %). The
peat/oil class averages its two fuels. Plant-specific values scatter around these by a
few per cent (efficiency, load, fuel quality).

Fuel classes follow Hanna et al. (2021): four classes derived from ENTSO-E production
types. Arrays here accept numpy arrays or torch tensors (duck-typed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TJ_PER_MWH = 0.0036


@dataclass(frozen=True)
class Fuel:
    """One fuel class.

    Attributes:
        name: class name used in files and configs.
        ipcc_ef_kg_per_tj: IPCC default CO₂ factor(s) of the fuel(s), kg CO₂/TJ (NCV).
        net_efficiency: typical net electrical efficiency, 0–1, one per IPCC factor.
        capacity_range_mw: plausible installed capacity of a plant of this fuel, MW.
    """

    name: str
    ipcc_ef_kg_per_tj: tuple[float, ...]
    net_efficiency: tuple[float, ...]
    capacity_range_mw: tuple[float, float]

    @property
    def ef_t_per_mwh(self) -> float:
        """Emission factor, t CO₂ per MWh of electricity (mean over the class's fuels)."""
        per_fuel = [
            ef * TJ_PER_MWH / 1000.0 / eta
            for ef, eta in zip(self.ipcc_ef_kg_per_tj, self.net_efficiency, strict=True)
        ]
        return float(np.mean(per_fuel))

    @property
    def efficiency(self) -> float:
        """Mean net electrical efficiency of the class, 0–1."""
        return float(np.mean(self.net_efficiency))


FUELS: tuple[Fuel, ...] = (
    Fuel("lignite", (101_000.0,), (0.36,), (300.0, 4000.0)),
    Fuel("hard_coal", (94_600.0,), (0.39,), (200.0, 3000.0)),
    Fuel("gas", (56_100.0,), (0.50,), (100.0, 2000.0)),
    Fuel("peat_oil", (106_000.0, 77_400.0), (0.35, 0.38), (50.0, 1000.0)),
)
FUEL_NAMES: tuple[str, ...] = tuple(f.name for f in FUELS)
NUM_FUELS = len(FUELS)

# ENTSO-E production types (names and PsrType codes) → fuel class.
ENTSOE_PRODUCTION_TYPES: dict[str, str] = {
    "Fossil Brown coal/Lignite": "lignite",
    "B02": "lignite",
    "Fossil Hard coal": "hard_coal",
    "B05": "hard_coal",
    "Fossil Gas": "gas",
    "B04": "gas",
    "Fossil Coal-derived gas": "gas",
    "B03": "gas",
    "Fossil Oil": "peat_oil",
    "B06": "peat_oil",
    "Fossil Oil shale": "peat_oil",
    "B07": "peat_oil",
    "Fossil Peat": "peat_oil",
    "B08": "peat_oil",
}


def fuel_index(name: str) -> int:
    """Class index of a fuel given by class name or ENTSO-E production type.

    Raises:
        ValueError: for an unknown fuel, listing the accepted names.
    """
    key = ENTSOE_PRODUCTION_TYPES.get(name.strip(), name.strip())
    if key not in FUEL_NAMES:
        raise ValueError(
            f"unknown fuel type {name!r}; use one of {list(FUEL_NAMES)} "
            f"or an ENTSO-E production type such as {list(ENTSOE_PRODUCTION_TYPES)[:4]}"
        )
    return FUEL_NAMES.index(key)


def emission_factors(like: Any = None) -> Any:
    """Emission factors of all classes, t CO₂/MWh, [NUM_FUELS] in class order.

    Returns a torch tensor on ``like``'s device and dtype when ``like`` is a tensor,
    otherwise a float64 numpy array.
    """
    values = np.array([f.ef_t_per_mwh for f in FUELS])
    if like is not None and type(like).__module__.startswith("torch"):
        import torch

        return torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return values


def co2_from_fuel(power_mw: Any, fuel: Any) -> Any:
    """CO₂ emission in t/h from generation (MW, [B]) and fuel class indices ([B])."""
    return power_mw * emission_factors(power_mw)[fuel]


def co2_from_fuel_probs(power_mw: Any, fuel_probs: Any) -> Any:
    """CO₂ emission in t/h from generation (MW, [B]) and fuel probabilities ([B, NUM_FUELS]).

    Uses the expected emission factor Σ_f p(f)·EF_f, so a confident classifier gives
    the class's factor and an unsure one a probability-weighted mix.
    """
    return power_mw * (fuel_probs @ emission_factors(fuel_probs))
