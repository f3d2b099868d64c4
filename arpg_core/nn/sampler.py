"""Randomized parallel decoding with known tokens, written as a generator of step results.

A job decodes B variants at once. Each variant has its own ``torch.Generator``, which draws its order
(when none is given) and its samples, so a variant replays exactly from its seed. Known tokens (the
context of an edit) enter the KV cache in the first forward together with the class token; the
unknown positions are then predicted in order, several per step, by the model's target-aware queries.
With classifier-free guidance the batch is doubled: B conditional rows, then B rows with the null class.
When every variant's class is the null class the two halves would be identical (guided = uncond +
(cond - uncond) * scale = cond), so only the conditional rows run: half the work, the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from arpg_core.nn.model import ARPG
from arpg_core.sampling import SamplingParams

__all__ = ["SamplingParams", "StepResult", "decode", "draw_orders", "sample_tokens", "step_counts"]


@dataclass
class StepResult:
    step: int  # 0-based index of this step
    num_steps: int  # steps in this job
    positions: Tensor  # (B, n) grid positions decoded in this step
    tokens: Tensor  # (B, n) their tokens
    grid: Tensor  # (B, P) every position so far; -1 where nothing is decoded yet
    logits: Tensor  # (B, n, V) guided logits of this step, before temperature
    cond_logits: Tensor  # (B, n, V) conditional rows
    uncond_logits: Tensor | None  # (B, n, V) null-class rows; None without guidance (or with no class at all)


def step_counts(n: int, num_steps: int, schedule: str = "arccos") -> list[int]:
    """Tokens decoded at each step for ``n`` unknown tokens (the official schedule, over n only).

    Before step s, a_s tokens are done; r_s = arccos((s+1)/T)/(pi/2) or cos(pi/2 (s+1)/T) is the share
    left masked; the step keeps m_s = max(1, min(n - a_s - 1, floor(n r_s))) masked and the last step
    takes the rest. Steps that would decode nothing (more steps than tokens) are dropped.
    """
    counts, done = [], 0
    for s in range(num_steps):
        if s == num_steps - 1:
            counts.append(n - done)
            break
        ratio = (s + 1) / num_steps
        r = math.acos(ratio) / (math.pi / 2) if schedule == "arccos" else math.cos(math.pi / 2 * ratio)
        keep = max(1, min(n - done - 1, int(n * r)))
        counts.append(n - done - keep)
        done += counts[-1]
    return [c for c in counts if c > 0]


def cfg_scales(counts: Sequence[int], scale: float, schedule: str = "constant") -> list[float]:
    """Guidance scale per step: constant, or linear 1 + (g - 1) * done/n counted after the step."""
    n, done, out = sum(counts), 0, []
    for c in counts:
        done += c
        out.append(scale if schedule == "constant" else 1.0 + (scale - 1.0) * done / n)
    return out


def filter_logits(logits: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Set every logit outside the top-k and outside the top-p nucleus to -inf."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative - sorted_logits.softmax(-1) >= top_p  # keeps the first token always
        drop = torch.zeros_like(drop_sorted).scatter(-1, idx, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_tokens(logits: Tensor, params: SamplingParams, generators: Sequence[torch.Generator]) -> Tensor:
    """Draw one token per position: logits (B, n, V) -> (B, n), row b from generators[b]."""
    if params.temperature == 0:
        return logits.argmax(-1)
    probs = filter_logits(logits.float() / params.temperature, params.top_k, params.top_p).softmax(-1)
    if not bool(torch.isfinite(probs).all()):
        raise ValueError("the model produced NaN or infinite scores: its weights are damaged or out of range")
    rows = []
    for p, g in zip(probs, generators):  # p: (n, V)
        rows.append(torch.multinomial(p.to(g.device), 1, generator=g)[:, 0].to(logits.device))
    return torch.stack(rows)  # (B, n)


def draw_orders(unknown: Tensor, generators: Sequence[torch.Generator]) -> Tensor:
    """A random order of the unknown positions (N,) for each variant: (B, N)."""
    n = unknown.numel()
    perms = [torch.randperm(n, generator=g, device=g.device).to(unknown.device) for g in generators]
    return torch.stack([unknown[p] for p in perms])


def decode(
    model: ARPG,
    labels: Sequence[int | None],
    generators: Sequence[torch.Generator],
    params: SamplingParams,
    *,
    num_positions: int | None = None,
    known_pos: Tensor | None = None,
    known_tokens: Tensor | None = None,
    orders: Tensor | None = None,
    rope: Tensor | None = None,
) -> Iterator[StepResult]:
    """Decode the unknown positions of B grids of ``num_positions`` tokens, yielding after each step.

    labels: B class labels (``None`` is the null class). known_pos (K,) with known_tokens (B, K): the
    context, shared positions with per-variant tokens. orders (B, N) or (N,): the unknown positions in
    decoding order; drawn from each variant's generator when omitted. rope: a rotary table for a grid
    other than the native one (``num_positions`` must then match it).
    """
    cfg = model.cfg
    device = model.embeddings.weight.device
    B = len(labels)
    if len(generators) != B:
        raise ValueError(f"need one generator per variant: {len(generators)} for {B} labels")
    P = num_positions or cfg.block_size
    known_pos = torch.zeros(0, dtype=torch.long) if known_pos is None else known_pos.long()
    known_pos = known_pos.to(device)
    K = known_pos.numel()
    known_tokens = torch.zeros(B, 0, dtype=torch.long) if known_tokens is None else known_tokens.long()
    known_tokens = known_tokens.to(device).expand(B, K)

    if orders is None:
        is_unknown = torch.ones(P, dtype=torch.bool, device=device)
        is_unknown[known_pos] = False
        orders = draw_orders(is_unknown.nonzero()[:, 0], generators)
    orders = orders.long().to(device).expand(B, -1)  # (B, N)
    N = orders.shape[1]
    if N == 0:
        raise ValueError("nothing to decode: every position is already known")

    counts = step_counts(N, params.num_steps, params.schedule)
    scales = cfg_scales(counts, params.cfg_scale, params.cfg_schedule)
    class_ids = torch.tensor([cfg.class_token_id(y) for y in labels], device=device)
    with_uncond = params.guided and not bool((class_ids == cfg.null_class_id).all())
    rows = 2 * B if with_uncond else B
    cache = model.new_cache(rows, 1 + K + N, rope)

    if with_uncond:
        class_ids = torch.cat([class_ids, torch.full_like(class_ids, cfg.null_class_id)])
    inputs = torch.cat([class_ids[:, None], known_tokens.repeat(rows // B, 1)], dim=1)  # (rows, 1 + K)
    input_rows = torch.cat([torch.zeros(1, dtype=torch.long, device=device), known_pos + 1])
    input_rows = input_rows.expand(rows, -1)  # (rows, 1 + K)

    grid = torch.full((B, P), -1, dtype=torch.long, device=device)
    grid[:, known_pos] = known_tokens
    start = 0
    with torch.inference_mode():
        for s, (n, scale) in enumerate(zip(counts, scales)):
            positions = orders[:, start : start + n]  # (B, n)
            query_rows = (positions + 1).repeat(rows // B, 1)  # (rows, n)
            causal = s == 0 and params.prefill == "causal"  # the first step prefills the class and the known tokens
            logits = model.step(cache, inputs, input_rows, query_rows, causal).float()  # (rows, n, V)
            cond, uncond = logits[:B], (logits[B:] if with_uncond else None)
            guided = cond if uncond is None else uncond + (cond - uncond) * scale
            tokens = sample_tokens(guided, params, generators)  # (B, n)
            grid.scatter_(1, positions, tokens)
            inputs, input_rows = tokens.repeat(rows // B, 1), query_rows
            start += n
            yield StepResult(s, len(counts), positions, tokens, grid, guided, cond, uncond)
