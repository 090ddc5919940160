"""`RegressionIntervals`: conformal intervals of the regression tasks, calibrated on the
validation split at the end of every validation epoch, so the checkpoint chosen on
validation carries the calibration of its own epoch.

Each regression task predicts a mean μ (its unit) and, with an uncertainty head, a spread
σ = exp(log σ) × the task's scale; without one σ = 1 (intervals of constant width). The
buffer ``quantiles`` [tasks, levels] holds the conformal quantile of |y − μ| / σ at each
level in ``LEVELS``; the interval at level ℓ is μ ± q_ℓ·σ (clipped at 0 for a non-negative
target). On the test split it reports the coverage of the nominal ``level`` interval and
its mean width, and the data of a reliability curve (coverage at every level).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from plantwatch.estimates.conformal import conformal_quantile, nonconformity
from plantwatch.task_registry import TaskSpec
from plantwatch.tasks.plots import interval_width_figure, reliability_figure

LEVELS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def sigma_key(task: str) -> str:
    """Output key of a regression task's log-spread: ``power_log_sigma``."""
    return f"{task}_log_sigma"


class RegressionIntervals(nn.Module):
    """Collects (target, μ, σ) of labelled samples per stage and task; calibrates and scores.

    Args:
        specs: the regression tasks.
        level: nominal coverage of the reported intervals; one of ``LEVELS``.
    """

    def __init__(self, specs: Sequence[TaskSpec], level: float = 0.9) -> None:
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"interval level must be one of {LEVELS}, got {level}")
        self.specs = list(specs)
        self.level = level
        self.register_buffer("quantiles", torch.full((len(self.specs), len(LEVELS)), torch.inf))
        self.cases: dict[str, list[torch.Tensor]] = {s.name: [] for s in self.specs}

    def sigma(self, outputs: Mapping[str, torch.Tensor], spec: TaskSpec) -> torch.Tensor:
        """σ [B] in the task's unit: exp(log σ) × scale, or ones without an uncertainty head."""
        mean = outputs[spec.name]
        if sigma_key(spec.name) not in outputs:
            return torch.ones_like(mean, dtype=torch.float32)
        return torch.exp(outputs[sigma_key(spec.name)].float()) * spec.scale

    def update(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> None:
        """Keep (target, μ, σ) [n, 3] of the batch's labelled samples."""
        for spec in self.specs:
            present = batch[spec.flag]
            if present.any():
                triple = torch.stack([batch[spec.target].float(), outputs[spec.name].float(),
                                      self.sigma(outputs, spec)], dim=1)[present]  # fmt: skip
                self.cases[spec.name].append(triple.detach())

    def collected(self, task: str) -> torch.Tensor:
        """The (target, μ, σ) rows collected for ``task`` [n, 3]."""
        rows = self.cases[task]
        return torch.cat(rows) if rows else torch.zeros((0, 3), device=self.quantiles.device)

    def reset(self) -> None:
        self.cases = {s.name: [] for s in self.specs}

    def calibrate(self, cases: Mapping[str, torch.Tensor]) -> None:
        """Set the quantiles from calibration cases [n, 3] per task (all ranks' cases)."""
        for i, spec in enumerate(self.specs):
            rows = cases[spec.name].double().cpu().numpy()
            scores = nonconformity(rows[:, 0], rows[:, 1], rows[:, 2])
            for j, level in enumerate(LEVELS):
                self.quantiles[i, j] = conformal_quantile(scores, level)

    def bounds(
        self, outputs: Mapping[str, torch.Tensor], spec: TaskSpec, level: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(low, high) [B] of the ``level`` interval (default: the nominal one)."""
        q = self.quantiles[self.specs.index(spec), LEVELS.index(level or self.level)]
        mean = outputs[spec.name].float()
        half = q * self.sigma(outputs, spec)
        low = mean - half
        return (low.clamp_min(0.0) if spec.nonnegative else low), mean + half

    def scores(self, cases: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Coverage of the nominal interval (``<task>_coverage``, 0–1), its mean width
        (``<task>_interval_width_<unit>``) and the coverage at every level
        (``<task>_coverage_<percent>``) over test cases [n, 3] per task."""
        out: dict[str, float] = {}
        for i, spec in enumerate(self.specs):
            rows = cases[spec.name].double()
            if not len(rows):
                continue
            error = (rows[:, 0] - rows[:, 1]).abs() / rows[:, 2].clamp_min(1e-12)
            for j, level in enumerate(LEVELS):
                inside = float((error <= self.quantiles[i, j].double()).double().mean())
                out[f"{spec.name}_coverage_{round(100 * level)}"] = inside
                if level == self.level:
                    out[f"{spec.name}_coverage"] = inside
                    width = 2 * self.quantiles[i, j].double() * rows[:, 2]
                    out[f"{spec.name}_interval_width_{spec.unit_tag}"] = float(width.mean())
        return out

    def figures(self, cases: Mapping[str, torch.Tensor]) -> dict[str, Figure]:
        """Test figures by tag: the reliability curve of every task (coverage at each level)
        and each task's |error| against its interval width."""
        scores = self.scores(cases)
        coverage = {
            s.name: [scores[f"{s.name}_coverage_{round(100 * level)}"] for level in LEVELS]
            for s in self.specs
            if f"{s.name}_coverage" in scores
        }
        figures = {"interval_reliability": reliability_figure(LEVELS, coverage)} if coverage else {}
        for i, spec in enumerate(self.specs):
            rows = cases[spec.name].double().cpu().numpy()
            q = float(self.quantiles[i, LEVELS.index(self.level)])
            if len(rows) and q < float("inf"):
                error, width = abs(rows[:, 0] - rows[:, 1]), 2 * q * rows[:, 2]
                figures[f"{spec.name}_interval_width"] = interval_width_figure(
                    error, width, spec.display, spec.unit
                )
        return figures
