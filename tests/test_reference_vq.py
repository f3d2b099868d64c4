"""The VQ tokenizer against outputs of the official LlamaGen VQModel (shared reference fixture)."""

from __future__ import annotations

import pytest
import torch
from reference import load_expected, load_fixture, load_weights, require_fixture

from arpg_core.nn.config import VQConfig
from arpg_core.nn.tokenizer import VQModel

require_fixture()


def vq_config_from_fixture(vq: dict) -> VQConfig:
    """Map the fixture's official-style VQ arguments to a VQConfig (decoder: one more res block)."""
    return VQConfig(
        codebook_size=vq["codebook_size"],
        codebook_dim=vq["codebook_embed_dim"],
        l2_norm=vq["codebook_l2_norm"],
        show_usage=vq["codebook_show_usage"],
        z_channels=vq["z_channels"],
        ch=vq["ch"],
        ch_mult=tuple(vq["ch_mult"]),
        encoder_res_blocks=vq["num_res_blocks"],
        decoder_res_blocks=vq["num_res_blocks"] + 1,
    )


@pytest.fixture(scope="module")
def fixture() -> dict:
    return load_fixture()


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_expected()


@pytest.fixture(scope="module")
def model(fixture) -> VQModel:
    m = VQModel(vq_config_from_fixture(fixture["vq"])).eval()
    m.load_state_dict(load_weights("vq_weights"), strict=True)
    return m


def test_state_dict_layout(fixture):
    m = VQModel(vq_config_from_fixture(fixture["vq"]))
    ours = {k: list(v.shape) for k, v in m.state_dict().items()}
    assert ours == fixture["vq_state_dict"]
    assert sum(p.numel() for p in m.parameters()) == fixture["vq"]["num_parameters"]


def test_config_downsample(fixture):
    cfg = vq_config_from_fixture(fixture["vq"])
    assert cfg.downsample == fixture["vq"]["downsample_factor"]


@torch.no_grad()
def test_encode_matches_reference(model, expected):
    image = expected["vq.image"]
    latent = model.encode_latent(image)
    torch.testing.assert_close(latent, expected["vq.latent_prequant"], atol=1e-4, rtol=1e-4)
    quant, codes = model.quantize(latent)
    torch.testing.assert_close(quant, expected["vq.quant"], atol=1e-4, rtol=0)
    assert codes.dtype == torch.int64
    assert torch.equal(codes, expected["vq.codes"])
    assert torch.equal(model.encode(image), expected["vq.codes"])


@torch.no_grad()
def test_decode_matches_reference(model, expected):
    codes = expected["vq.codes"]
    torch.testing.assert_close(model.codes_to_latent(codes), expected["vq.quant"], atol=1e-4, rtol=0)
    torch.testing.assert_close(model.decode(codes), expected["vq.decoded"], atol=1e-4, rtol=0)
