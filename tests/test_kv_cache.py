"""The KV cache: decoding through it gives the logits of one full forward."""

from __future__ import annotations

import pytest
import torch
from tiny import TINY_ARPG, tiny_arpg

from arpg_core.nn.kv_cache import KVCache


def test_one_token_per_step_equals_the_causal_forward():
    model = tiny_arpg()
    L = TINY_ARPG.block_size
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, TINY_ARPG.vocab_size, (2, L), generator=gen)
    orders = torch.stack([torch.randperm(L, generator=gen) for _ in range(2)])
    labels = torch.tensor([TINY_ARPG.class_token_id(1), TINY_ARPG.class_token_id(None)])
    with torch.no_grad():
        full = model(tokens, labels, orders)  # (2, L, V) teacher-forced, causal
        cache = model.new_cache(2, L)
        inputs, rows = labels[:, None], torch.zeros(2, 1, dtype=torch.long)
        steps = []
        for i in range(L):
            q = orders[:, i : i + 1] + 1
            steps.append(model.step(cache, inputs, rows, q))
            inputs, rows = torch.gather(tokens, 1, orders[:, i : i + 1]), q
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-4, rtol=1e-4)
    assert cache.length == L


def test_a_causal_prefill_then_one_token_per_step_equals_the_causal_forward():
    """An edit's context prefilled in one causal forward (the engine's default) puts the cache in the state
    training sees: the known tokens first in the order, then the unknown ones one at a time."""
    model = tiny_arpg()
    L, K = TINY_ARPG.block_size, 40
    gen = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, TINY_ARPG.vocab_size, (2, L), generator=gen)
    order = torch.randperm(L, generator=gen)  # known: its first K positions, in this order
    labels = torch.tensor([TINY_ARPG.class_token_id(2), TINY_ARPG.class_token_id(None)])
    with torch.no_grad():
        full = model(tokens, labels, order.expand(2, L))  # (2, L, V)
        cache = model.new_cache(2, L)
        known = order[:K]
        inputs = torch.cat([labels[:, None], tokens[:, known]], 1)  # (2, 1 + K)
        rows = torch.cat([torch.zeros(1, dtype=torch.long), known + 1]).expand(2, -1)
        steps = []
        for i in range(K, L):
            q = order[i : i + 1].expand(2, 1) + 1
            steps.append(model.step(cache, inputs, rows, q, causal=i == K))
            inputs, rows = tokens[:, order[i : i + 1]], q
        unmasked = model.step(
            model.new_cache(2, L),
            torch.cat([labels[:, None], tokens[:, known]], 1),
            torch.cat([torch.zeros(1, dtype=torch.long), known + 1]).expand(2, -1),
            order[K : K + 1].expand(2, 1) + 1,
        )
    torch.testing.assert_close(torch.cat(steps, 1), full[:, K:], atol=1e-4, rtol=1e-4)
    assert (unmasked - full[:, K : K + 1]).abs().max() > 1e-2  # all at once, the known tokens see each other


def test_prefill_order_does_not_change_logits():
    """In a bidirectional prefill nothing is masked, so the order of the known tokens in it is irrelevant."""
    model = tiny_arpg()
    gen = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, TINY_ARPG.vocab_size, (1, 41), generator=gen)
    rows = torch.cat([torch.zeros(1, 1, dtype=torch.long), 1 + torch.randperm(64, generator=gen)[:40][None]], 1)
    queries = 1 + torch.tensor([[3, 9, 27]])
    shuffle = torch.cat([torch.zeros(1, dtype=torch.long), 1 + torch.randperm(40, generator=gen)])
    with torch.no_grad():
        a = model.step(model.new_cache(1, 41), tokens, rows, queries)
        b = model.step(model.new_cache(1, 41), tokens[:, shuffle], rows[:, shuffle], queries)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_cache_is_preallocated_and_refuses_overflow():
    cache = KVCache(batch=1, heads=2, max_len=4, head_dim=8, dtype=torch.float32, device="cpu")
    buffer = cache.k.data_ptr()
    k, _ = cache.append(torch.ones(1, 2, 3, 8), torch.ones(1, 2, 3, 8))
    assert k.shape == (1, 2, 3, 8) and cache.k.data_ptr() == buffer
    with pytest.raises(RuntimeError, match="KV cache full"):
        cache.append(torch.ones(1, 2, 2, 8), torch.ones(1, 2, 2, 8))
