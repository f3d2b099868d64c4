"""The tensors a config asks for, computed by arithmetic: a file is checked against them before any model is built.

``arpg_shapes`` and ``vq_shapes`` list every state-dict entry of ``ARPG(cfg)`` and ``VQModel(cfg)`` with its shape
(tests/test_hostile.py checks them against the real modules). ``check_fits`` compares what a file holds, from its
header or its tensors, with that list, so a config that claims a huge model is refused by its first mismatched
shape, with nothing allocated.
"""

from __future__ import annotations

from collections.abc import Mapping

from arpg_core.files.safefile import FLOAT_DTYPES, CheckpointError
from arpg_core.nn.config import ARPGConfig, VQConfig

USAGE_BUFFER = "quantize.codebook_used"  # a training-time statistic: optional, any numeric dtype
USAGE_BUFFER_LEN = 65536

Shape = tuple[int, ...]


def arpg_shapes(cfg: ARPGConfig) -> dict[str, Shape]:
    d, hidden = cfg.dim, cfg.ffn_hidden_dim
    out: dict[str, Shape] = {"embeddings.weight": (cfg.embedding_rows, d)}

    def block(prefix: str, projections: tuple[str, ...]) -> None:
        for name in projections:
            out[f"{prefix}.attn.{name}.weight"] = (d, d)
        out[f"{prefix}.ffn.w1.weight"] = (hidden, d)
        out[f"{prefix}.ffn.w3.weight"] = (hidden, d)
        out[f"{prefix}.ffn.w2.weight"] = (d, hidden)
        out[f"{prefix}.attn_norm.weight"] = (d,)
        out[f"{prefix}.ffn_norm.weight"] = (d,)

    for i in range(cfg.n_layer // 2):
        block(f"layers.self_dec.{i}", ("to_q", "to_k", "to_v", "proj"))
    for i in range(cfg.n_layer // 2):
        block(f"layers.cross_dec.{i}", ("to_q", "proj"))
    out.update({"layers.norm.weight": (d,), "layers.to_k.weight": (d, d), "layers.to_v.weight": (d, d)})
    out.update({"norm.weight": (d,), "head.weight": (cfg.vocab_size, d)})
    return out


def vq_shapes(cfg: VQConfig) -> dict[str, Shape]:
    out: dict[str, Shape] = {}

    def conv(prefix: str, cin: int, cout: int, k: int) -> None:
        out[f"{prefix}.weight"] = (cout, cin, k, k)
        out[f"{prefix}.bias"] = (cout,)

    def norm(prefix: str, c: int) -> None:
        out[f"{prefix}.weight"] = (c,)
        out[f"{prefix}.bias"] = (c,)

    def res(prefix: str, cin: int, cout: int) -> None:
        norm(f"{prefix}.norm1", cin)
        conv(f"{prefix}.conv1", cin, cout, 3)
        norm(f"{prefix}.norm2", cout)
        conv(f"{prefix}.conv2", cout, cout, 3)
        if cin != cout:
            conv(f"{prefix}.nin_shortcut", cin, cout, 1)

    def attn(prefix: str, c: int) -> None:
        norm(f"{prefix}.norm", c)
        for name in ("q", "k", "v", "proj_out"):
            conv(f"{prefix}.{name}", c, c, 1)

    def mid(prefix: str, c: int) -> None:
        res(f"{prefix}.0", c, c)
        attn(f"{prefix}.1", c)
        res(f"{prefix}.2", c, c)

    ch, mult, z = cfg.ch, cfg.ch_mult, cfg.z_channels
    conv("encoder.conv_in", 3, ch, 3)
    in_mult = (1, *mult)
    for i, m in enumerate(mult):
        last = i == len(mult) - 1
        for j in range(cfg.encoder_res_blocks):
            res(f"encoder.conv_blocks.{i}.res.{j}", ch * in_mult[i] if j == 0 else ch * m, ch * m)
            if last:
                attn(f"encoder.conv_blocks.{i}.attn.{j}", ch * m)
        if not last:
            conv(f"encoder.conv_blocks.{i}.downsample.conv", ch * m, ch * m, 3)
    top = ch * mult[-1]
    mid("encoder.mid", top)
    norm("encoder.norm_out", top)
    conv("encoder.conv_out", top, z, 3)

    width = top
    conv("decoder.conv_in", z, width, 3)
    mid("decoder.mid", width)
    for i, m in enumerate(reversed(mult)):
        for j in range(cfg.decoder_res_blocks):
            res(f"decoder.conv_blocks.{i}.res.{j}", width if j == 0 else ch * m, ch * m)
            if i == 0:
                attn(f"decoder.conv_blocks.{i}.attn.{j}", ch * m)
        width = ch * m
        if i != len(mult) - 1:
            conv(f"decoder.conv_blocks.{i}.upsample.conv", width, width, 3)
    norm("decoder.norm_out", width)
    conv("decoder.conv_out", width, 3, 3)

    if cfg.show_usage:
        out[USAGE_BUFFER] = (USAGE_BUFFER_LEN,)
    out["quantize.embedding.weight"] = (cfg.codebook_size, cfg.codebook_dim)
    conv("quant_conv", z, cfg.codebook_dim, 1)
    conv("post_quant_conv", cfg.codebook_dim, z, 1)
    if cfg.colour_path:
        conv("colour_in", 3, cfg.codebook_dim, 1)
        conv("colour_out", cfg.codebook_dim, 3, 1)
    return out


def expected_shapes(kind: str, cfg) -> dict[str, Shape]:
    return arpg_shapes(cfg) if kind == "arpg" else vq_shapes(cfg)


def numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def check_fits(found: Mapping[str, tuple[Shape, str]], expected: Mapping[str, Shape], what: str) -> None:
    """Refuse ``found`` (name -> (shape, dtype name)) unless it has exactly the ``expected`` names and shapes and
    floating-point weights. Dtype names are the safetensors ones (F32, BF16, ...); see ``dtype_name``.
    The usage buffer of a VQ tokenizer may be absent."""
    problems = fit_problems(found, expected)
    if problems:
        raise CheckpointError(f"these weights do not fit the {what}; " + "; ".join(problems))


def fit_problems(found: Mapping[str, tuple[Shape, str]], expected: Mapping[str, Shape]) -> list[str]:
    """What keeps ``found`` from fitting ``expected``, a few names per kind of problem; empty when it fits."""
    missing = [k for k in expected if k not in found and k != USAGE_BUFFER]
    unexpected = [k for k in found if k not in expected]
    mismatched = [
        f"{k} {tuple(found[k][0])} (expected {tuple(v)})"
        for k, v in expected.items()
        if k in found and tuple(found[k][0]) != tuple(v)
    ]
    wrong_type = [
        f"{k} ({found[k][1]})" for k in expected if k in found and k != USAGE_BUFFER and found[k][1] not in FLOAT_DTYPES
    ]
    problems = []
    labels = (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
    for label, items in (*labels, ("not floating point", wrong_type)):
        if items:
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            problems.append(f"{label}: {', '.join(items[:5])}{more}")
    return problems
