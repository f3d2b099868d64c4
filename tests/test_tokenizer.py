"""Shape and training behaviour of the VQ tokenizer on a tiny random configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from arpg_core.config import VQConfig
from arpg_core.tokenizer import VQModel

TINY = VQConfig(
    codebook_size=16,
    codebook_dim=4,
    z_channels=8,
    ch=8,
    ch_mult=(1, 2, 2),
    encoder_res_blocks=1,
    decoder_res_blocks=2,
    num_groups=4,
)


@pytest.fixture
def model() -> VQModel:
    torch.manual_seed(0)
    return VQModel(TINY).eval()


@pytest.mark.parametrize("hw", [(16, 16), (24, 32)])
@torch.no_grad()
def test_roundtrip_shapes(model, hw):
    h, w = hw
    ds = TINY.downsample
    images = torch.rand(2, 3, h, w) * 2 - 1
    codes = model.encode(images)
    assert codes.shape == (2, h // ds, w // ds)
    assert codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < TINY.codebook_size
    out = model.decode(codes)
    assert out.shape == (2, 3, h, w)
    assert torch.isfinite(out).all()
    # decode uses exactly the quantised latent that encode produced
    z_q, codes2 = model.quantize(model.encode_latent(images))
    assert torch.equal(codes, codes2)
    torch.testing.assert_close(model.codes_to_latent(codes), z_q)


def test_codebook_rows_are_normalised(model):
    rows = model.quantize.codebook()
    torch.testing.assert_close(rows.norm(dim=-1), torch.ones(TINY.codebook_size))


def test_forward_train_losses_and_gradients(model):
    model.train()
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    recon, losses, codes = model.forward_train(images)
    assert recon.shape == images.shape
    assert codes.shape == (2, 4, 4)
    assert set(losses) == {"codebook", "commitment"}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    loss = (recon - images).pow(2).mean() + sum(losses.values())
    loss.backward()
    grad = model.encoder.conv_in.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.quantize.embedding.weight.grad.abs().sum() > 0
    # the usage ring buffer recorded this batch's codes at its end
    used = model.quantize.codebook_used
    assert torch.equal(used[-codes.numel() :], codes.flatten().float())
    assert 0 < model.quantize.usage() <= 1


def test_commitment_gradient_reaches_encoder_without_decoder(model):
    images = torch.rand(1, 3, 16, 16) * 2 - 1
    _, losses, _ = model.forward_train(images)
    losses["commitment"].backward()
    assert model.encoder.conv_in.weight.grad.abs().sum() > 0
    assert model.decoder.conv_in.weight.grad is None


def test_embedded_tokenizer_recipe_never_normalises_a_channel_on_its_own():
    """GroupNorm with one channel per group removes each map's mean over the window, and the colour with it."""
    from arpg_core.train_cli import EMBEDDED_VQ, EMBEDDED_VQ_V1

    def min_group(cfg):
        return min(m.num_channels // m.num_groups for m in VQModel(cfg).modules() if isinstance(m, nn.GroupNorm))

    assert min_group(EMBEDDED_VQ) >= 4
    assert min_group(EMBEDDED_VQ_V1) == 1  # the first shipped tokenizer: the cause of its colour loss


def test_pixel_norm_keeps_the_layout_and_the_window_mean():
    from dataclasses import replace

    from arpg_core.tokenizer import PixelNorm

    cfg = VQConfig(codebook_size=16, codebook_dim=4, z_channels=8, ch=8, ch_mult=(1, 2), num_groups=4)
    group, pixel = VQModel(cfg), VQModel(replace(cfg, norm="pixel"))
    assert {k: v.shape for k, v in group.state_dict().items()} == {k: v.shape for k, v in pixel.state_dict().items()}

    norm = PixelNorm(3)
    flat = torch.tensor([1.0, 2.0, 4.0]).view(1, 3, 1, 1).expand(1, 3, 5, 5)
    out = norm(flat)
    assert out[0, :, 2, 2].abs().sum() > 1  # a uniform map keeps its channel pattern (GroupNorm zeroes it)
    assert torch.allclose(out[0, :, 2, 2], torch.nn.functional.layer_norm(flat[0, :, 2, 2], (3,), eps=1e-6))
    x = torch.randn(1, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[..., 0, 0] += 5.0
    assert torch.equal(norm(x)[..., 1:, 1:], norm(y)[..., 1:, 1:])  # each position on its own


def test_encode_in_channels_last_gives_the_default_layouts_codes():
    from arpg_core.checkpoints import build_vq, read_checkpoint

    vq = build_vq(read_checkpoint(Path(__file__).parent.parent / "assets" / "embedded-tokenizer.safetensors"))
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 128, 128, generator=g) * 2 - 1
    with torch.inference_mode():
        plain = vq.quantize(vq.encode_latent(images))[1]  # the default (NCHW) layout all through
        assert torch.equal(vq.encode(images), plain)
        cl = vq.encode_latent(images.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(cl, vq.encode_latent(images), atol=1e-4, rtol=1e-4)
