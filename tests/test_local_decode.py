"""Region decode (arpg_core.nn.local_decode) against the full decode, on small random tokenizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from arpg_core.nn import local_decode as ld
from arpg_core.nn.config import VQConfig
from arpg_core.nn.tokenizer import VQModel


def _vq(norm: str, seed: int = 0, colour_path: bool = False) -> VQModel:
    torch.manual_seed(seed)
    cfg = VQConfig(
        codebook_size=64,
        codebook_dim=8,
        z_channels=16,
        ch=16,
        ch_mult=(1, 2, 2),
        encoder_res_blocks=1,
        decoder_res_blocks=1,
        num_groups=4,
        norm=norm,
        colour_path=colour_path,
    )
    return VQModel(cfg).eval()


def _codes(vq: VQModel, side: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vq.cfg.codebook_size, (2, side, side), generator=g)


def _u8(x: torch.Tensor) -> np.ndarray:
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy().astype(np.int16)


BOX = ld.Box(24, 40, 20, 36)  # 16x16 px inside a 64x64 px window (16x16 tokens of 4 px)


def test_exact_margin_counts_the_fine_levels_receptive_field():
    vq = _vq("group")
    # from the split (level 1, at 2x the grid): level 1 has one ResBlock (2 convs) and an upsample (1 conv),
    # level 2 one ResBlock (2 convs), then conv_out (1 conv): ceil((ceil((1 + 2 + 1) / 2) + 2) / 2) = 2 tokens
    assert ld.exact_margin(vq, split=1) == 2
    assert ld.exact_margin(vq, split=2) == 1  # level 2's two convs and conv_out: ceil(3 px at 4x the grid / 4)


@pytest.mark.parametrize("split", [1, 2])
def test_pixel_norm_region_with_the_full_margin_is_the_full_decode(split):
    vq = _vq("pixel")
    codes = _codes(vq)
    with torch.inference_mode():
        full = vq.decode(codes)
        region = ld.decode_region(vq, codes, BOX, margin=ld.exact_margin(vq, split), split=split)
    want = full[:, :, BOX.y0 : BOX.y1, BOX.x0 : BOX.x1]
    assert region.shape == want.shape
    torch.testing.assert_close(region, want, atol=1e-5, rtol=1e-5)
    # a margin short of the receptive field is not exact: the test can tell
    with torch.inference_mode():
        short = ld.decode_region(vq, codes, BOX, margin=0, split=split)
    assert (short - want).abs().max() > 1e-3


@pytest.mark.parametrize("colour_path", [False, True])
def test_group_norm_needs_the_whole_maps_statistics(colour_path):
    vq = _vq("group", colour_path=colour_path)
    if colour_path:  # make its term count: a random init leaves it small next to the decoder's output
        torch.nn.init.normal_(vq.colour_out.weight, std=1.0)
    codes = _codes(vq)
    with torch.inference_mode():
        full = vq.decode(codes)
        _, sums = ld.reference_sums(vq, codes, BOX)
        exact = ld.decode_region(vq, codes, BOX, margin=ld.exact_margin(vq), reference=sums)
        local = ld.decode_region(vq, codes, BOX, margin=ld.exact_margin(vq))
    want = full[:, :, BOX.y0 : BOX.y1, BOX.x0 : BOX.x1]
    # the same grid's sums: the full decode up to float rounding
    torch.testing.assert_close(exact, want, atol=1e-4, rtol=1e-4)
    assert np.abs(_u8(exact) - _u8(want)).max() <= 1
    # the crop's own statistics are measurably off (this is why the engine never pastes them)
    assert np.abs(_u8(local) - _u8(want)).mean() > 1.0


def test_reference_from_a_grid_changed_inside_the_box_stays_close():
    vq = _vq("group")
    before = _codes(vq)[:1]
    after = before.clone()
    after[:, 7:9, 6:8] = _codes(vq, seed=5)[:1, :2, :2]  # new tokens under the box only
    with torch.inference_mode():
        want = vq.decode(after)[:, :, BOX.y0 : BOX.y1, BOX.x0 : BOX.x1]
        _, sums = ld.reference_sums(vq, before, BOX)
        got = ld.decode_region(vq, after, BOX, reference=sums)
        local = ld.decode_region(vq, after, BOX)
    err = np.abs(_u8(got) - _u8(want))
    # measured on this tokenizer (seeds 0-2): max 1 to 4, mean 0.22 to 0.79 (8-bit units): fine for a preview,
    # not for pasting; the crop's own statistics are 7 to 28 times further off (mean 4.6 to 8.2)
    assert err.max() <= 8
    assert err.mean() <= 2.0
    assert np.abs(_u8(local) - _u8(want)).mean() > 2 * err.mean()


def test_crop_box_is_aligned_and_clipped():
    vq = _vq("group")
    crop = ld.crop_box(vq, (16, 16), ld.Box(1, 5, 60, 64), margin=1, split=1)
    # features of 2 px at the split, one token (2 features) of margin, clipped at the window's edges
    assert crop == ld.Box(0, 10, 56, 64)
    assert ld.box_of(np.zeros((4, 4))) is None
    alpha = np.zeros((8, 8))
    alpha[2:4, 3:6] = 0.5
    assert ld.box_of(alpha) == ld.Box(2, 4, 3, 6)


def test_attention_levels_cannot_be_cropped():
    vq = _vq("group")
    with pytest.raises(ValueError, match="split must be 1 to 2"):
        ld.decode_region(vq, _codes(vq), BOX, split=0)


def test_paste_decoder_keeps_what_is_pasted_exact():
    vq = _vq("group")
    codes = _codes(vq)[:1]
    write = np.zeros((64, 64), np.float32)
    write[BOX.y0 : BOX.y1, BOX.x0 : BOX.x1] = 1.0
    dec = ld.PasteDecoder.for_window(vq, (16, 16), write, (64, 64), previews=True)
    assert dec.box == BOX
    changed = codes.clone()
    changed[:, 7:9, 6:8] = 3
    with torch.inference_mode():
        first = dec.decode(codes, exact=False)  # no reference yet: a full decode, which records one
        torch.testing.assert_close(first, vq.decode(codes))
        preview = dec.decode(changed, exact=False)  # the box only, from the reference
        full = vq.decode(changed)
        inside = (slice(None), slice(None), slice(BOX.y0, BOX.y1), slice(BOX.x0, BOX.x1))
        assert np.abs(_u8(preview[inside]) - _u8(full[inside])).max() <= 8
        assert torch.equal(preview[:, :, : BOX.y0], first[:, :, : BOX.y0])  # outside: the reference's pixels
        last = dec.decode(changed)  # exact
        torch.testing.assert_close(last, full)
        assert dec.decode(changed) is last  # the same grid again: reused, not decoded twice
    # without previews, or when the decode is resized before pasting, nothing is cropped
    assert ld.PasteDecoder.for_window(vq, (16, 16), write, (64, 64), previews=False).box is None
    assert ld.PasteDecoder.for_window(vq, (16, 16), write, (60, 64), previews=True).box is None
    big = np.ones((64, 64), np.float32)
    assert ld.PasteDecoder.for_window(vq, (16, 16), big, (64, 64), previews=True).box is None


def test_engine_previews_decode_the_box_and_leave_the_result_unchanged():
    from arpg_core.edit.requests import build_request
    from arpg_core.weights.registry import load_engine

    engine = load_engine("embedded", precision="fp32")
    y, x = np.mgrid[0:192, 0:256]
    img = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
    mask = np.zeros((192, 256), bool)
    mask[64:96, 96:128] = True
    results = []
    for preview in (False, True):
        request = build_request(
            "inpaint", image=img, mask=mask, seed=1, num_steps=8, preview=preview, preview_interval=0.0
        )
        plan = engine.plan(request)
        gen = engine.run(plan)
        shown = 0
        while True:
            try:
                shown += next(gen).preview is not None
            except StopIteration as stop:
                results.append(stop.value)
                break
        assert shown == (8 if preview else 0)
    assert plan._paste.box is not None and plan._paste._reference is not None  # previews used the box
    assert np.array_equal(results[0].images[0], results[1].images[0])  # what is pasted: exact either way


def test_paste_decoder_on_a_tokenizer_with_few_levels():
    torch.manual_seed(0)
    two = VQModel(VQConfig(codebook_size=64, codebook_dim=8, z_channels=16, ch=16, ch_mult=(1, 2), num_groups=4))
    one = VQModel(VQConfig(codebook_size=64, codebook_dim=8, z_channels=16, ch=16, ch_mult=(1,), num_groups=4))
    write = np.zeros((32, 32), np.float32)
    write[10:14, 10:14] = 1.0
    codes = torch.randint(0, 64, (1, 16, 16))
    with torch.inference_mode():
        dec = ld.PasteDecoder.for_window(two.eval(), (16, 16), write, (32, 32), previews=True)
        assert dec.split == 1 and dec.box is not None
        dec.decode(codes, exact=False)
        assert dec.decode(codes, exact=False).shape == (1, 3, 32, 32)  # from the box, at split 1
        flat = ld.PasteDecoder.for_window(one.eval(), (16, 16), np.pad(write, (0, 0))[:16, :16], (16, 16), True)
        assert flat.box is None  # one level: nothing below the attention to crop
        torch.testing.assert_close(flat.decode(codes, exact=False), one.decode(codes))
