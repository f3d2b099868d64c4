"""State-dict layout of the full-size models against the official checkpoints' key names and shapes."""

from __future__ import annotations

import json

import pytest
import torch
from reference import layout_path

from arpg_core.files.checkpoints import infer_arpg_config, infer_vq_config
from arpg_core.nn.config import ARPG_PRESETS, VQ_PRESETS
from arpg_core.nn.model import ARPG
from arpg_core.nn.tokenizer import VQModel


def _layout() -> dict:
    path = layout_path()
    if not path.is_file():
        pytest.skip(f"checkpoint layout not found at {path} (set ARPG_REFERENCE_DIR)")
    return json.loads(path.read_text())


def _shapes(entries: list[dict]) -> dict[str, list[int]]:
    return {e["key"]: list(e["shape"]) for e in entries}


def test_vq16_layout():
    official = _layout()["models"]["VQ-16"]
    with torch.device("meta"):
        model = VQModel(VQ_PRESETS["VQ-16"])
    sd = model.state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == _shapes(official["state_dict"])
    assert all(v.dtype == torch.float32 for v in sd.values())
    assert sum(p.numel() for p in model.parameters()) == official["num_parameters"]
    assert VQ_PRESETS["VQ-16"].downsample == official["downsample_factor"]


@pytest.mark.parametrize("name", ["ARPG-L", "ARPG-XL", "ARPG-XXL"])
def test_arpg_preset_layout(name):
    official = _layout()["models"][name]
    cfg = ARPG_PRESETS[name]
    with torch.device("meta"):
        model = ARPG(cfg)
    sd = model.state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == _shapes(official["state_dict"])
    assert sum(p.numel() for p in model.parameters()) == official["num_parameters"]
    assert cfg.ffn_hidden_dim == official["ffn_hidden_dim"]
    assert cfg.embedding_rows == official["embedding_rows"]
    assert list(model.rope.shape) == official["freqs_cis_shape_not_in_state_dict"]


@pytest.mark.parametrize("name", ["ARPG-L", "ARPG-XL", "ARPG-XXL"])
def test_arpg_config_inferred_from_official_shapes(name):
    official = _layout()["models"][name]
    fake = {e["key"]: torch.empty(e["shape"], device="meta") for e in official["state_dict"]}
    assert infer_arpg_config(fake) is ARPG_PRESETS[name]


def test_vq16_config_inferred_from_official_shapes():
    official = _layout()["models"]["VQ-16"]
    fake = {e["key"]: torch.empty(e["shape"], device="meta") for e in official["state_dict"]}
    assert infer_vq_config(fake) is VQ_PRESETS["VQ-16"]


def test_token_ids_match_layout():
    ids = _layout()["arpg_token_ids"]
    cfg = ARPG_PRESETS["ARPG-L"]
    assert cfg.mask_token_id == ids["mask_token_id"]
    assert [cfg.class_token_id(0), cfg.class_token_id(999)] == ids["class_token_ids"]
    assert cfg.class_token_id(None) == ids["none_conds_id"]
