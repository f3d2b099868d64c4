"""ARPG: a two-pass decoder for randomized-order parallel autoregressive image generation.

An independent implementation of the architecture of Li et al., "Autoregressive Image Generation with
Randomized Parallel Decoding" (arXiv 2503.10568; official code hp-l33/ARPG, MIT). Parameter names and
shapes follow the official checkpoints so they load with ``strict=True``.

Pass 1 (self-attention blocks) reads the known tokens ``[class, t_0, t_1, ...]``, each rotated to its
own grid position. One shared K/V projection turns its output into keys and values. Pass 2
(cross-attention blocks) starts from the mask-token embedding, rotated to the positions that are to be
predicted, and attends to those keys and values. The model returns logits and nothing else.

Shapes: B batch rows, T input tokens, M queries, H heads, D head_dim, V vocab, S cached tokens.
Rotary "rows" index a table whose row 0 is the class slot (all zeros) and row 1 + p is grid position p.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from arpg_core.nn.config import ARPGConfig
from arpg_core.nn.kv_cache import DecodeCache, KVCache


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SelfAttention(nn.Module):
    def __init__(self, cfg: ARPGConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.to_q = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.to_k = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.to_v = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.proj = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(self, x: Tensor, rope: Tensor, cache: KVCache | None, mask: Tensor | None) -> Tensor:
        B, T, _ = x.shape
        q = apply_rope(self.to_q(x).view(B, T, self.n_head, self.head_dim), rope)  # (B, T, H, D)
        k = apply_rope(self.to_k(x).view(B, T, self.n_head, self.head_dim), rope)  # (B, T, H, D)
        v = self.to_v(x).view(B, T, self.n_head, self.head_dim)  # (B, T, H, D)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, H, S, D): every cached token plus these
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, -1))  # (B, T, H*D)


class CrossAttention(nn.Module):
    """Queries from the query stream; keys and values are the shared ones of pass 1."""

    def __init__(self, cfg: ARPGConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.to_q = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.proj = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(self, h: Tensor, rope: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        B, M, _ = h.shape
        q = apply_rope(self.to_q(h).view(B, M, self.n_head, self.head_dim), rope)  # (B, M, H, D)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, attn_mask=mask)  # (B, H, M, D)
        return self.proj(y.transpose(1, 2).reshape(B, M, -1))  # (B, M, H*D)


class SelfBlock(nn.Module):
    def __init__(self, cfg: ARPGConfig):
        super().__init__()
        self.attn = SelfAttention(cfg)
        self.ffn = FeedForward(cfg.dim, cfg.ffn_hidden_dim)
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, x: Tensor, rope: Tensor, cache: KVCache | None, mask: Tensor | None) -> Tensor:
        x = x + self.attn(self.attn_norm(x), rope, cache, mask)
        return x + self.ffn(self.ffn_norm(x))


class CrossBlock(nn.Module):
    def __init__(self, cfg: ARPGConfig):
        super().__init__()
        self.attn = CrossAttention(cfg)
        self.ffn = FeedForward(cfg.dim, cfg.ffn_hidden_dim)
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, h: Tensor, rope: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        h = h + self.attn(self.attn_norm(h), rope, k, v, mask)
        return h + self.ffn(self.ffn_norm(h))


class TwoPassDecoder(nn.Module):
    """Pass 1 over the known tokens, one shared K/V projection, pass 2 over the queries."""

    def __init__(self, cfg: ARPGConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.self_dec = nn.ModuleList(SelfBlock(cfg) for _ in range(cfg.n_layer // 2))
        self.cross_dec = nn.ModuleList(CrossBlock(cfg) for _ in range(cfg.n_layer // 2))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.to_k = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.to_v = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(
        self,
        x: Tensor,
        x_rope: Tensor,
        h: Tensor,
        h_rope: Tensor,
        cache: DecodeCache | None,
        mask: Tensor | None,
        cross_mask: Tensor | None,
    ) -> Tensor:
        for i, block in enumerate(self.self_dec):
            x = block(x, x_rope, cache.layers[i] if cache else None, mask)
        B, T, _ = x.shape
        x = self.norm(x)
        k = apply_rope(self.to_k(x).view(B, T, self.n_head, self.head_dim), x_rope)  # (B, T, H, D)
        v = self.to_v(x).view(B, T, self.n_head, self.head_dim)  # (B, T, H, D)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, D)
        if cache is not None:
            k, v = cache.shared.append(k, v)  # (B, H, S, D)
        for block in self.cross_dec:
            h = block(h, h_rope, k, v, cross_mask)
        return h


class ARPG(nn.Module):
    def __init__(self, cfg: ARPGConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = nn.Embedding(cfg.embedding_rows, cfg.dim)
        self.layers = TwoPassDecoder(cfg)
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        side = cfg.grid_size
        self.register_buffer("rope", rope_table(cfg.head_dim, cfg.rope_base, side, side), persistent=False)

    def new_cache(self, batch: int, max_len: int, rope: Tensor | None = None) -> DecodeCache:
        """A fresh cache for one decoding job; ``rope`` replaces the native table (e.g. a larger grid)."""
        p = self.embeddings.weight
        table = self.rope if rope is None else rope.to(p.device)
        return DecodeCache(
            self.cfg.n_layer // 2,
            batch,
            self.cfg.n_head,
            max_len,
            self.cfg.head_dim,
            table,
            p.dtype,
            p.device,
        )

    def step(
        self, cache: DecodeCache, tokens: Tensor, token_rows: Tensor, query_rows: Tensor, causal: bool = False
    ) -> Tensor:
        """One decoding step: append ``tokens`` (B, T) to the cache, predict at ``query_rows`` (B, M).

        New tokens see the whole cache and each other, queries see every cached key (the official inference
        semantics). ``causal``: each new token sees the cache and only the new tokens before it, as every
        token does in training; for a prefill of many known tokens (editing). Returns logits (B, M, V).
        """
        rope = cache.rope
        T = tokens.shape[1]
        mask = None
        if causal and T > 1:
            mask = torch.ones(T, cache.length + T, dtype=torch.bool, device=tokens.device)  # (T, S)
            mask[:, cache.length :] = torch.ones(T, T, dtype=torch.bool, device=tokens.device).tril()
        x = self.embeddings(tokens)  # (B, T, dim)
        h = self._queries(query_rows)  # (B, M, dim)
        h = self.layers(x, rope[token_rows], h, rope[query_rows], cache, mask, None)
        return self.head(self.norm(h))

    def forward(self, tokens: Tensor, labels: Tensor, orders: Tensor) -> Tensor:
        """Teacher-forced logits with causal masks, as in training.

        tokens (B, L) in raster order, labels (B,) embedding ids of the class slot, orders (B, L) one
        permutation of 0..L-1 per sample. Returns logits (B, L, V) in *shuffled* order: row i predicts
        tokens[b, orders[b, i]] from the class token and the i tokens before it in that order.
        """
        L = tokens.shape[1]
        shuffled = torch.gather(tokens, 1, orders)  # (B, L)
        x_ids = torch.cat([labels[:, None], shuffled[:, :-1]], dim=1)  # (B, L)
        zero = torch.zeros_like(orders[:, :1])
        x_rows = torch.cat([zero, orders[:, :-1] + 1], dim=1)  # (B, L): class slot row 0
        q_rows = orders + 1  # (B, L): each query carries its target position
        causal = torch.ones(L, L, dtype=torch.bool, device=tokens.device).tril()  # (L, L)
        x = self.embeddings(x_ids)
        h = self._queries(q_rows)
        h = self.layers(x, self.rope[x_rows], h, self.rope[q_rows], None, causal, causal)
        return self.head(self.norm(h))

    def _queries(self, rows: Tensor) -> Tensor:
        mask_embedding = self.embeddings.weight[self.cfg.mask_token_id]  # (dim,)
        return mask_embedding.expand(*rows.shape, -1)  # (B, M, dim)


def rope_table(
    head_dim: int,
    base: float,
    grid_h: int,
    grid_w: int,
    scale: float = 1.0,
    extrapolate: int = 0,
) -> Tensor:
    """2D rotary table (1 + h*w, head_dim/2, 2) of (cos, sin); row 0 is the class slot, all zeros.

    Pair k < head_dim/4 rotates by the row coordinate times f_k, pair head_dim/4 + k by the column
    coordinate times f_k, with f_k = base^(-4k/head_dim). Coordinates are ``index * scale``: a scale
    below 1 interpolates a larger grid into the trained range. The ``extrapolate`` highest frequencies
    keep the unscaled index (an NTK-style mix of extrapolation and interpolation).
    """
    quarter = head_dim // 4
    freqs = 1.0 / (base ** (torch.arange(0, 2 * quarter, 2)[:quarter].float() / (2 * quarter)))  # (Q,)
    keep = torch.arange(quarter) < extrapolate  # (Q,) True: extrapolate this frequency
    per_freq_scale = torch.where(keep, torch.tensor(1.0), torch.tensor(float(scale)))  # (Q,)
    rows = torch.arange(grid_h, dtype=torch.float32)[:, None] * per_freq_scale * freqs  # (h, Q)
    cols = torch.arange(grid_w, dtype=torch.float32)[:, None] * per_freq_scale * freqs  # (w, Q)
    angles = torch.cat(
        [rows[:, None, :].expand(grid_h, grid_w, quarter), cols[None, :, :].expand(grid_h, grid_w, quarter)],
        dim=-1,
    ).reshape(grid_h * grid_w, 2 * quarter)  # (h*w, D/2): row angles first, then column angles
    table = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)  # (h*w, D/2, 2)
    return torch.cat([torch.zeros(1, 2 * quarter, 2), table])  # (1 + h*w, D/2, 2)


def apply_rope(x: Tensor, rope: Tensor) -> Tensor:
    """Rotate interleaved pairs of x (B, T, H, D) by rope (B, T, D/2, 2)."""
    xp = x.float().reshape(*x.shape[:-1], -1, 2)  # (B, T, H, D/2, 2)
    r = rope[:, :, None]  # (B, T, 1, D/2, 2)
    out = torch.stack(
        [
            xp[..., 0] * r[..., 0] - xp[..., 1] * r[..., 1],
            xp[..., 1] * r[..., 0] + xp[..., 0] * r[..., 1],
        ],
        dim=-1,
    )  # (B, T, H, D/2, 2)
    return out.flatten(3).type_as(x)  # (B, T, H, D)
