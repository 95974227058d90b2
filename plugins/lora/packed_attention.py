"""Attention over packed rows without flash-attn: causal SDPA within each sample, never across.

Registered with transformers as ``packed_sdpa``. The training loop passes the sample bounds of
the row as the keyword ``packed_bounds`` (a list of ints); transformers hands it through to
the attention function. Cost is the sum of squared sample lengths, not the squared row length.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

NAME = "packed_sdpa"


def packed_sdpa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    packed_bounds: list[int] | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Causal attention per sample of a packed row; (batch, heads, seq, dim) in, (batch, seq,
    heads, dim) out, as transformers' attention functions do."""
    if kwargs.get("sliding_window") or kwargs.get("softcap"):
        raise NotImplementedError("packed_sdpa supports neither sliding windows nor soft-capping")
    if key.shape[2] != query.shape[2]:
        raise NotImplementedError("packed_sdpa is for training rows, not cached generation")
    bounds = packed_bounds or [0, query.shape[2]]
    gqa = key.shape[1] != query.shape[1]
    pieces = [
        F.scaled_dot_product_attention(
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            dropout_p=dropout,
            is_causal=True,
            scale=scaling,
            enable_gqa=gqa,
        )
        for start, end in zip(bounds, bounds[1:], strict=False)
    ]
    output = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)
    return output.transpose(1, 2).contiguous(), None


def register() -> str:
    """Make ``packed_sdpa`` known to transformers; returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_sdpa_attention)
    return NAME
