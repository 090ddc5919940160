"""`Run`: one run of a study — a variant at a label fraction, a training seed and a split
seed — and the names of its TensorBoard folder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    """One run of a study."""

    variant: str
    label_fraction: float
    seed: int
    split_seed: int | None = None

    @property
    def group(self) -> str:
        """TensorBoard run name below the study root: ``<variant>/frac<f>``."""
        return f"{self.variant}/frac{self.label_fraction:g}"

    @property
    def version(self) -> str:
        """TensorBoard version of the run: ``seed<t>`` or ``split<s>_seed<t>``."""
        split = "" if self.split_seed is None else f"split{self.split_seed}_"
        return f"{split}seed{self.seed}"
