"""Heads by task kind: a dense head per segmentation task on the shared U-Net decoder, an
MLP per global task on the pooled encoder features (+ aux)."""

from __future__ import annotations

from segmentation_models_pytorch.base import SegmentationHead
from torch import nn

from plantwatch.task_registry import TaskSpec


def dense_head(spec: TaskSpec, decoder_channels: int) -> nn.Module:
    """3×3 convolution from the decoder's last feature map to ``spec.num_outputs`` logits."""
    return SegmentationHead(decoder_channels, spec.num_outputs, kernel_size=3)


def global_head(spec: TaskSpec, inputs: int, hidden: int, dropout: float) -> nn.Sequential:
    """Two-layer MLP from pooled features [B, inputs] to ``spec.num_outputs`` values."""
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, spec.num_outputs),
    )
