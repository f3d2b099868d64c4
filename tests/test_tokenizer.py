"""Shape and training behaviour of the VQ tokenizer on a tiny random configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from arpg_core.nn.config import VQConfig
from arpg_core.nn.tokenizer import VQModel

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
    from arpg_core.cli.train_cli import EMBEDDED_VQ, EMBEDDED_VQ_V1

    def min_group(cfg):
        return min(m.num_channels // m.num_groups for m in VQModel(cfg).modules() if isinstance(m, nn.GroupNorm))

    assert min_group(EMBEDDED_VQ) >= 4
    assert min_group(EMBEDDED_VQ_V1) == 1  # the first shipped tokenizer: the cause of its colour loss


def test_pixel_norm_keeps_the_layout_and_the_window_mean():
    from dataclasses import replace

    from arpg_core.nn.tokenizer import PixelNorm

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


@torch.no_grad()
def test_colour_path_adds_each_cells_mean_colour_around_the_norms():
    """The encoder adds a 1x1 conv of each cell's mean input to the latent; the decoder adds a 1x1 conv of each
    code, bilinearly upsampled, to its output. Neither passes through a GroupNorm."""
    from dataclasses import replace

    torch.manual_seed(0)
    path = VQModel(replace(TINY, colour_path=True)).eval()
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    inner = path.quant_conv(path.encoder(x))
    cells = x.unfold(2, 4, 4).unfold(3, 4, 4).mean((-1, -2))  # (1, 3, 4, 4): each 4x4 cell's mean
    assert torch.allclose(path.encode_latent(x) - inner, path.colour_in(cells), atol=1e-5)
    # Two flat colours differ in the latent by exactly the colour path's linear term.
    red, green = (torch.tensor(c).view(1, 3, 1, 1).expand(1, 3, 16, 16) for c in ([0.8, -0.8, -0.8], [-0.8, 0.8, -0.8]))
    d_inner = path.quant_conv(path.encoder(red)) - path.quant_conv(path.encoder(green))
    d_path = path.colour_in.weight[:, :, 0, 0] @ (red - green)[0, :, 0, 0]
    assert torch.allclose(path.encode_latent(red) - path.encode_latent(green) - d_inner, d_path.view(1, -1, 1, 1))
    # On the way out a uniform code grid adds a uniform colour term.
    z = path.codes_to_latent(torch.zeros(1, 4, 4, dtype=torch.long))
    term = path.decode_latent(z) - path.decoder(path.post_quant_conv(z))
    assert torch.allclose(term, path.colour_out(z)[..., :1, :1].expand_as(term), atol=1e-5)
    assert "colour_in.weight" in path.state_dict() and "colour_in.weight" not in VQModel(TINY).state_dict()


def test_code_colour_head_and_hue_jitter():
    from arpg_core.training.train import VQTrainConfig, cell_colour, colour_head, hue_jitter, vq_loss

    torch.manual_seed(0)
    model = VQModel(TINY)
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    head = colour_head(TINY.codebook_dim)
    loss, parts, _ = vq_loss(model, images, VQTrainConfig(code_colour_weight=1.0), head)
    assert "code_colour" in parts and parts["code_colour"] > 0
    loss.backward()
    assert model.encoder.conv_in.weight.grad.abs().sum() > 0 and head[0].weight.grad.abs().sum() > 0
    assert cell_colour(images, 4).shape == (2, 3, 4, 4)

    gen = torch.Generator().manual_seed(0)
    assert hue_jitter(images, 0.0, gen) is images
    turned = hue_jitter(images.clamp(-0.5, 0.5), 1.0, gen)
    assert not torch.allclose(turned, images.clamp(-0.5, 0.5))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    # Away from the clamp a hue rotation keeps each pixel's luma.
    assert torch.allclose((turned * luma).sum(1), (images.clamp(-0.5, 0.5) * luma).sum(1), atol=0.05)


def test_saturation_jitter_scales_chroma_and_keeps_luma():
    from arpg_core.training.train import _CHROMA, saturation_jitter

    g = torch.Generator().manual_seed(0)
    images = (torch.rand(4, 3, 8, 8, generator=g) - 0.5) * 0.4  # small values: the clamp never acts
    gen = torch.Generator().manual_seed(0)
    assert saturation_jitter(images, 0.0, gen) is images
    out = saturation_jitter(images, 1.0, gen)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose((out * luma).sum(1), (images * luma).sum(1), atol=1e-5)
    chroma = lambda x: torch.einsum("cr,brhw->bchw", _CHROMA, x).abs().mean((1, 2, 3))  # noqa: E731
    gain = chroma(out) / chroma(images)
    assert ((gain > 1.0) & (gain < 2.0 + 1e-4)).all(), gain


def test_texture_term_asks_for_the_inputs_texture_energy_not_its_phase():
    from arpg_core.training.train import VQTrainConfig, texture_energy, vq_loss

    checker = (torch.arange(16).view(1, 16) + torch.arange(16).view(16, 1)) % 2 * 2 - 1.0  # (16, 16) in {-1, 1}
    images = checker.expand(1, 3, 16, 16)
    shifted = torch.roll(images, 1, dims=-1)  # the same texture, the opposite phase
    flat = torch.zeros_like(images)
    assert torch.allclose(texture_energy(images, 4), texture_energy(shifted, 4))  # same energy
    assert (texture_energy(images, 4) > texture_energy(flat, 4) + 1).all()  # a blur has none
    torch.manual_seed(0)
    _, parts, _ = vq_loss(VQModel(TINY), images, VQTrainConfig(texture_weight=1.0))
    assert parts["texture"] > 0


def test_band_texture_term_tells_a_fine_lattice_from_real_texture():
    from arpg_core.training.train import VQTrainConfig, band_energy, vq_loss

    checker = (torch.arange(16).view(1, 16) + torch.arange(16).view(16, 1)) % 2 * 2 - 1.0  # (16, 16) in {-1, 1}
    lattice = checker.expand(1, 3, 16, 16)
    g = torch.Generator().manual_seed(0)
    coarse = F.interpolate(torch.rand(1, 1, 4, 4, generator=g) * 2 - 1, scale_factor=4).expand(1, 3, 16, 16)
    e_lat, e_coarse = band_energy(lattice, 4, 2), band_energy(coarse, 4, 2)  # (1, 4, 4, 4): dx, dy per octave
    assert e_lat.shape == (1, 4, 4, 4)
    # The 1 px lattice is all fine band: pooled by 2 it is flat, so its second octave has no energy.
    assert (e_lat[:, :2] > 1).all() and torch.allclose(e_lat[:, 2:], torch.zeros(1, 2, 4, 4))
    assert e_coarse[:, 2:].sum() > 0  # blocks 4 px wide show at the coarser octave too
    assert torch.allclose(band_energy(lattice, 4, 2), band_energy(torch.roll(lattice, 1, -1), 4, 2))  # no phase
    torch.manual_seed(0)
    _, parts, _ = vq_loss(VQModel(TINY), lattice, VQTrainConfig(texture_weight=1.0, texture_octaves=2))
    assert parts["texture"] > 0


def test_encode_in_channels_last_gives_the_default_layouts_codes():
    from arpg_core.files.checkpoints import build_vq, read_checkpoint

    vq = build_vq(read_checkpoint(Path(__file__).parent.parent / "assets" / "embedded-tokenizer.safetensors"))
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 128, 128, generator=g) * 2 - 1
    with torch.inference_mode():
        plain = vq.quantize(vq.encode_latent(images))[1]  # the default (NCHW) layout all through
        assert torch.equal(vq.encode(images), plain)
        cl = vq.encode_latent(images.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(cl, vq.encode_latent(images), atol=1e-4, rtol=1e-4)
