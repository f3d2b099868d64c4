"""VQ image tokenizer with the LlamaGen ``VQModel`` architecture (VQ-16 and smaller variants).

This is an independent implementation of the VQ tokenizer architecture of LlamaGen
(github.com/FoundationVision/LlamaGen, MIT licence), written from a description of its structure.
Module and parameter names are chosen so that ``state_dict()`` has exactly the official key names
and shapes, so the official checkpoints load with ``strict=True``.

Images are float tensors ``(B, 3, H, W)`` in ``[-1, 1]``; codes are ``LongTensor (B, H/ds, W/ds)``
in raster order, ``ds = config.downsample``. The model is fully convolutional apart from the
attention blocks, which attend over all latent positions, so any ``H, W`` divisible by ``ds`` works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from arpg_core.nn.config import VQConfig

USAGE_BUFFER_LEN = 65536  # length of the official `quantize.codebook_used` ring buffer
COMMITMENT_BETA = 0.25


class PixelNorm(nn.Module):
    """Normalise each position's channels on their own (a LayerNorm over C), with GroupNorm's parameters.

    Unlike GroupNorm nothing is averaged over the map, so a feature's mean over the window (the window's
    colour, say) survives, and every output pixel depends on nearby inputs only.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        # (B, C, H, W) -> (B, H, W, C) for layer_norm over C, and back
        y = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


def _norm(channels: int, groups: int) -> nn.Module:
    """GroupNorm with ``groups`` groups; ``groups`` 0 means PixelNorm (the config's norm "pixel")."""
    return PixelNorm(channels) if groups == 0 else nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


def _groups(cfg: VQConfig) -> int:
    return cfg.num_groups if cfg.norm == "group" else 0


class ResBlock(nn.Module):
    """GN, swish, 3x3 conv, GN, swish, 3x3 conv, plus a 1x1 shortcut when the width changes."""

    def __init__(self, in_ch: int, out_ch: int, groups: int):
        super().__init__()
        self.norm1 = _norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2 = _norm(out_ch, groups)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all h*w positions (scale 1/sqrt(channels)), residual."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = _norm(ch, groups)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        n = self.norm(x)
        # (B, C, h, w) -> (B, 1, h*w, C): one head, positions as the sequence
        q, k, v = (conv(n).flatten(2).transpose(1, 2).unsqueeze(1) for conv in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v)  # (B, 1, h*w, C)
        out = out.squeeze(1).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Zero-pad right and bottom by one, then a 3x3 stride-2 conv without padding (H -> H/2)."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _level(in_ch: int, out_ch: int, n_res: int, with_attn: bool, groups: int) -> nn.Module:
    """One resolution level: ``res`` blocks, each followed by an ``attn`` block when ``with_attn``."""
    level = nn.Module()
    level.res = nn.ModuleList(ResBlock(in_ch if j == 0 else out_ch, out_ch, groups) for j in range(n_res))
    level.attn = nn.ModuleList(AttnBlock(out_ch, groups) for _ in range(n_res if with_attn else 0))
    return level


def _run_level(level: nn.Module, h: Tensor) -> Tensor:
    for j, res in enumerate(level.res):
        h = res(h)
        if len(level.attn):
            h = level.attn[j](h)
    return h


def _mid(ch: int, groups: int) -> nn.ModuleList:
    return nn.ModuleList([ResBlock(ch, ch, groups), AttnBlock(ch, groups), ResBlock(ch, ch, groups)])


class Encoder(nn.Module):
    """Image (B, 3, H, W) -> latent (B, z_channels, H/ds, W/ds). Attention only at the last level."""

    def __init__(self, cfg: VQConfig):
        super().__init__()
        ch, mult, g = cfg.ch, cfg.ch_mult, _groups(cfg)
        in_mult = (1, *mult)
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.conv_blocks = nn.ModuleList()
        for i, m in enumerate(mult):
            last = i == len(mult) - 1
            level = _level(ch * in_mult[i], ch * m, cfg.encoder_res_blocks, last, g)
            if not last:
                level.downsample = Downsample(ch * m)
            self.conv_blocks.append(level)
        top = ch * mult[-1]
        self.mid = _mid(top, g)
        self.norm_out = _norm(top, g)
        self.conv_out = nn.Conv2d(top, cfg.z_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for level in self.conv_blocks:
            h = _run_level(level, h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        for block in self.mid:
            h = block(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latent (B, z_channels, h, w) -> image (B, 3, h*ds, w*ds), unclamped.

    ``conv_blocks[0]`` is the coarsest level (it carries the attention blocks), ``conv_blocks[-1]``
    the finest; level i has width ``ch * ch_mult[n-1-i]``.
    """

    def __init__(self, cfg: VQConfig):
        super().__init__()
        ch, mult, g = cfg.ch, cfg.ch_mult, _groups(cfg)
        width = ch * mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, width, 3, padding=1)
        self.mid = _mid(width, g)
        self.conv_blocks = nn.ModuleList()
        for i, m in enumerate(reversed(mult)):
            level = _level(width, ch * m, cfg.decoder_res_blocks, i == 0, g)
            width = ch * m
            if i != len(mult) - 1:
                level.upsample = Upsample(width)
            self.conv_blocks.append(level)
        self.norm_out = _norm(width, g)
        self.conv_out = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.conv_in(z)
        for block in self.mid:
            h = block(h)
        for level in self.conv_blocks:
            h = _run_level(level, h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Quantizer(nn.Module):
    """Nearest-codebook-row lookup; with ``l2_norm`` both z and the rows are unit-normalised first."""

    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.l2_norm = cfg.l2_norm
        if cfg.show_usage:  # training-time ring buffer of recent codes; never read at inference
            self.register_buffer("codebook_used", torch.zeros(USAGE_BUFFER_LEN))
        self.embedding = nn.Embedding(cfg.codebook_size, cfg.codebook_dim)
        with torch.no_grad():
            self.embedding.weight.uniform_(-1.0 / cfg.codebook_size, 1.0 / cfg.codebook_size)
            if self.l2_norm:
                self.embedding.weight.copy_(F.normalize(self.embedding.weight, dim=-1))

    def codebook(self) -> Tensor:
        """The rows used for lookup and decoding, (codebook_size, dim)."""
        w = self.embedding.weight
        return F.normalize(w, dim=-1) if self.l2_norm else w

    def _lookup(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """z (B, C, h, w) -> (z channel-last and normalised, its codebook rows, codes (B, h, w))."""
        z = z.permute(0, 2, 3, 1)  # (B, h, w, C)
        if self.l2_norm:
            z = F.normalize(z, dim=-1)
        emb = self.codebook()
        flat = z.reshape(-1, z.shape[-1])  # (B*h*w, C)
        dist = flat.pow(2).sum(1, keepdim=True) + emb.pow(2).sum(1) - 2 * flat @ emb.t()  # (B*h*w, K)
        codes = dist.argmin(dim=1)
        return z, emb[codes].view(z.shape), codes.view(z.shape[:-1])

    @staticmethod
    def _straight_through(z: Tensor, z_q: Tensor) -> Tensor:
        return (z + (z_q - z).detach()).permute(0, 3, 1, 2)  # (B, h, w, C) -> (B, C, h, w)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z (B, C, h, w) -> (quantised latent (B, C, h, w), codes (B, h, w))."""
        z_n, z_q, codes = self._lookup(z)
        return self._straight_through(z_n, z_q), codes

    def forward_train(self, z: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Like ``forward`` plus the codebook and commitment losses; records usage."""
        z_n, z_q, codes = self._lookup(z)
        losses = {
            "codebook": F.mse_loss(z_q, z_n.detach()),
            "commitment": COMMITMENT_BETA * F.mse_loss(z_n, z_q.detach()),
        }
        self._record_usage(codes)
        return self._straight_through(z_n, z_q), codes, losses

    @torch.no_grad()
    def _record_usage(self, codes: Tensor) -> None:
        if not hasattr(self, "codebook_used"):
            return
        buf = self.codebook_used
        new = codes.flatten()[-buf.numel() :].to(buf.dtype)
        buf.copy_(torch.cat([buf[new.numel() :], new]))

    def usage(self) -> float:
        """Fraction of the codebook seen in the usage buffer (0 when show_usage is off)."""
        if not hasattr(self, "codebook_used"):
            return 0.0
        return self.codebook_used.unique().numel() / self.embedding.num_embeddings


class VQModel(nn.Module):
    def __init__(self, config: VQConfig):
        super().__init__()
        self.cfg = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.quantize = Quantizer(config)
        self.quant_conv = nn.Conv2d(config.z_channels, config.codebook_dim, 1)
        self.post_quant_conv = nn.Conv2d(config.codebook_dim, config.z_channels, 1)
        if config.colour_path:  # each cell's mean colour, around the normalisations (config.py)
            self.colour_in = nn.Conv2d(3, config.codebook_dim, 1)
            self.colour_out = nn.Conv2d(config.codebook_dim, 3, 1)

    def encode_latent(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) in [-1, 1] -> pre-quantisation latent (B, codebook_dim, H/ds, W/ds)."""
        z = self.quant_conv(self.encoder(images))
        if self.cfg.colour_path:
            z = z + self.colour_in(F.avg_pool2d(images, self.cfg.downsample))  # (B, 3, h, w) -> (B, dim, h, w)
        return z

    def encode(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) in [-1, 1] -> codes LongTensor (B, H/ds, W/ds).

        The images go in channels-last: oneDNN's convolutions then keep that layout through the encoder, 12 %
        less CPU for VQ-16 at 256 px, with latents within 1e-5 of the default layout's and the same codes
        (docs/performance.md). The decoder gains nothing from it and keeps the default."""
        return self.quantize(self.encode_latent(images.contiguous(memory_format=torch.channels_last)))[1]

    def codes_to_latent(self, codes: Tensor) -> Tensor:
        """Codes (B, h, w) -> codebook rows as a channel-first latent (B, codebook_dim, h, w)."""
        return self.quantize.codebook()[codes].permute(0, 3, 1, 2)  # (B, h, w, C) -> (B, C, h, w)

    def decode_latent(self, z_q: Tensor) -> Tensor:
        out = self.decoder(self.post_quant_conv(z_q))
        return out + self.colour_term(z_q) if self.cfg.colour_path else out

    def colour_term(self, z_q: Tensor) -> Tensor:
        """The colour path's share of the output: (B, 3, h, w) cell colours, bilinear up to (B, 3, H, W)."""
        cell = self.colour_out(z_q)
        return F.interpolate(cell, scale_factor=self.cfg.downsample, mode="bilinear", align_corners=False)

    def decode(self, codes: Tensor) -> Tensor:
        """Codes (B, h, w) -> images (B, 3, h*ds, w*ds), roughly in [-1, 1] but not clamped."""
        return self.decode_latent(self.codes_to_latent(codes))

    def forward(self, images: Tensor) -> Tensor:
        """Reconstruction through the quantiser (straight-through gradient)."""
        return self.decode_latent(self.quantize(self.encode_latent(images))[0])

    def forward_train(self, images: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """-> (reconstruction, {"codebook": loss, "commitment": loss}, codes (B, h, w))."""
        z_q, codes, losses = self.quantize.forward_train(self.encode_latent(images))
        return self.decode_latent(z_q), losses, codes
