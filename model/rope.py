"""Rotary position embeddings (RoPE): the angles of a forward's positions (`rope_angles`, or by
lookup in a `RopeTable`), their rotation of a head (`apply_rope`), and the layout that rotates the
attention's joined projection [q | k | v | indexer] in one pass (`joined_rope_layout`,
`joined_angles`; used by model.attention.SparseAttention).
"""
from __future__ import annotations

import torch


class Angles(tuple):
    """(cos, sin) of one forward's positions, plus `memo`: tables derived from them once and
    shared by every layer of that forward (`SparseAttention.rotate_joined`)."""

    def __new__(cls, cos: torch.Tensor, sin: torch.Tensor):
        self = super().__new__(cls, (cos, sin))
        self.memo = {}
        return self


def rope_angles(positions: torch.Tensor, dim: int, theta: float) -> Angles:
    """positions (B, T) -> cos, sin each (B, T, 1, dim) in the form `apply_rope` takes: each pair's
    cos on both halves, its sin negated on the first half."""
    inv_freq = theta ** (-torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) / dim)
    ang = positions.float()[..., None] * inv_freq                          # (B, T, dim/2)
    cos, sin = ang.cos(), ang.sin()
    return Angles(torch.cat([cos, cos], -1)[:, :, None, :], torch.cat([-sin, sin], -1)[:, :, None, :])


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, D) rotated pairwise (first half x1, second half x2):
    [x1 cos - x2 sin, x2 cos + x1 sin], as x * cos + [x2, x1] * sin (4 ops)."""
    xf = x if x.dtype == torch.float32 else x.float()
    half = x.size(-1) // 2
    y = xf * cos + torch.cat([xf[..., half:], xf[..., :half]], dim=-1) * sin
    return y if y.dtype == x.dtype else y.to(x.dtype)


class RopeTable:
    """cos / sin of every position below `n`, computed once: `rope_angles` by lookup (2 ops a
    call instead of ~10; the same values, as the table is built by the same elementwise ops)."""

    def __init__(self, n: int, dim: int, theta: float, device):
        self.cos, self.sin = rope_angles(torch.arange(n, device=device)[None], dim, theta)   # (1, n, 1, dim)
        self.cos, self.sin = self.cos[0, :, 0], self.sin[0, :, 0]                           # (n, dim)

    def __call__(self, positions: torch.Tensor):
        """positions (B, T), each < n -> cos, sin each (B, T, 1, dim)."""
        return Angles(self.cos[positions][:, :, None], self.sin[positions][:, :, None])


def joined_rope_layout(H: int, D: int, Hi: int, Di: int, with_index: bool):
    """RoPE for the joined projection [q (H heads) | k (H) | v (H) | iq (Hi) | ik (1) | iw (Hi)]
    (the indexer's part only if `with_index`) as rope(p) = (p * cos_j + p[..., perm] * sin_j) *
    scale: `apply_rope` on each rotated head (q, k, iq, ik: perm swaps each head's halves) times
    the indexer's scales (iq: Di^-1/2, iw: Hi^-1/2); v and iw pass through (cos 1, sin 0).
    Returns perm, cols, scale (W,): cos_j = [cos (D) | index cos (Di) | 1][..., cols] (`joined_angles`)."""
    parts = [(2 * H, D, 0, 1.0), (H, D, None, 1.0)]           # (heads, width, first angle column, scale)
    if with_index:
        parts += [(Hi, Di, D, Di ** -0.5), (1, Di, D, 1.0), (Hi, 1, None, Hi ** -0.5)]
    perm, cols, scale, at = [], [], [], 0
    for n, d, col, s in parts:
        if col is None:                                      # passed through: the column of 1 (sin 0)
            perm.append(at + torch.arange(n * d))
            cols.append(torch.full((n * d,), D + Di))
        else:                                                # each head read as [second half, first half]
            perm.append((at + torch.arange(n)[:, None] * d + torch.arange(d).roll(d // 2)).flatten())
            cols.append((col + torch.arange(d)).repeat(n))
        scale.append(torch.full((n * d,), s))
        at += n * d
    return torch.cat(perm), torch.cat(cols), torch.cat(scale)


def joined_angles(rope, index_rope, cols: torch.Tensor):
    """cos_j, sin_j (B, T, W) of `joined_rope_layout` from cos, sin (B, T, 1, D) and index
    cos, sin (B, T, 1, Di); 6 ops, once per forward (the layers share them: `Angles.memo`)."""
    (cos, sin), (icos, isin) = rope, index_rope
    one = cos.new_ones(*cos.shape[:2], 1)
    return (torch.cat([cos[:, :, 0], icos[:, :, 0], one], -1)[..., cols],
            torch.cat([sin[:, :, 0], isin[:, :, 0], one * 0], -1)[..., cols])
