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


def test_prefill_order_does_not_change_logits():
    """Inside one forward nothing is masked, so the order of the known tokens in a prefill is irrelevant."""
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
