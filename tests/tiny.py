"""Tiny random models for fast tests (no fixture, no download)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from arpg_core.nn.config import ARPGConfig, VQConfig
from arpg_core.nn.model import ARPG
from arpg_core.nn.tokenizer import VQModel
from arpg_core.weights.catalog import ModelEntry

TINY_ARPG = ARPGConfig(dim=64, n_layer=4, n_head=4, vocab_size=64, num_classes=5, block_size=64, multiple_of=32)
TINY_VQ = VQConfig(
    codebook_size=64,
    codebook_dim=8,
    z_channels=32,
    ch=32,
    ch_mult=(1, 2),
    encoder_res_blocks=1,
    decoder_res_blocks=1,
)


def tiny_arpg(seed: int = 0, cfg: ARPGConfig = TINY_ARPG) -> ARPG:
    torch.manual_seed(seed)
    model = ARPG(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5 / p.shape[1] ** 0.5) if p.dim() > 1 else p.normal_(1, 0.2)
    return model.eval()


def tiny_vq(seed: int = 0, cfg: VQConfig = TINY_VQ) -> VQModel:
    torch.manual_seed(seed)
    return VQModel(cfg).eval()


# --- the tiny models as hub downloads (tests/test_weights.py, tests/app/test_models.py) -------------------

ARPG_PARAMS = sum(p.numel() for p in tiny_arpg().parameters())
VQ_PARAMS = sum(p.numel() for p in tiny_vq().parameters())
TINY_ENTRIES = {  # registry entries of their own, standing in for the official ones
    "TINY-ARPG": ModelEntry(
        "TINY-ARPG", "arpg", "test-org/tiny-arpg", "tiny_arpg.pt", None, ARPG_PARAMS, "TINY-VQ", 64, "metadata"
    ),
    "TINY-VQ": ModelEntry("TINY-VQ", "vq", "test-org/tiny-vq", "tiny_vq.pt", None, VQ_PARAMS, None, 64, "metadata"),
}


def pt_bytes(obj) -> bytes:
    """``obj`` pickled with torch.save, as the official .pt files are."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
