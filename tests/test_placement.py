"""apply(): where each mode's result lands, what stays as it was, and when a result no longer fits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_pipeline import engine, photo  # noqa: F401  (the tiny engine fixture)

from arpg_core.edit.placement import Document, EditResult, NoLongerFits, Placement, apply
from arpg_core.edit.plans import lanczos_result
from arpg_core.edit.requests import build_request


def document(h=20, w=24, alpha=True):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (h, w), dtype=np.uint8) if alpha else None
    mask = np.zeros((h, w), np.uint8)
    mask[3:9, 4:12] = 255
    return Document(photo(h, w), a, mask)


def frozen(doc: Document):
    return [None if x is None else x.copy() for x in (doc.rgb, doc.alpha, doc.mask)]


def unchanged(doc: Document, before) -> bool:
    return all(
        (a is None and b is None) or np.array_equal(a, b) for a, b in zip((doc.rgb, doc.alpha, doc.mask), before)
    )


def test_inpaint_lands_in_place_and_keeps_alpha_and_mask(engine):  # noqa: F811
    doc = document()
    before = frozen(doc)
    result = engine.edit(build_request("inpaint", image=doc.rgb, mask=doc.mask > 0, num_steps=3, variants=2))
    assert result.placement == Placement((24, 20), (24, 20), masked=True)
    for i in range(2):
        out = apply(doc, result, i)
        assert np.array_equal(out.rgb, result.images[i])
        assert np.array_equal(out.alpha, doc.alpha) and np.array_equal(out.mask, doc.mask)
        assert out.mask is not doc.mask  # a copy: the document may paint its mask in place later
    assert unchanged(doc, before)


def test_outpaint_lands_around_the_source_opaque_in_the_new_area(engine):  # noqa: F811
    doc = document()
    before = frozen(doc)
    l, t, r, b = 5, 3, 16, 0
    result = engine.edit(build_request("outpaint", image=doc.rgb, extend=(l, t, r, b), num_steps=2))
    p = result.placement
    assert p.size == (24 + l + r, 20 + t + b) and p.offset == (l, t) and p.extends and not p.masked
    out = apply(doc, result)
    assert out.rgb.shape == (20 + t + b, 24 + l + r, 3)
    assert np.array_equal(out.rgb[t : t + 20, l : l + 24], doc.rgb)  # the source, untouched
    assert np.array_equal(out.alpha[t : t + 20, l : l + 24], doc.alpha)
    new = np.ones(out.alpha.shape, bool)
    new[t : t + 20, l : l + 24] = False
    assert (out.alpha[new] == 255).all() and (out.mask[new] == 0).all()
    assert np.array_equal(out.mask[t : t + 20, l : l + 24], doc.mask)
    assert p.view() == (-l, -t, 1.0) and p.rect(0, 0, 24, 20) == (l, t, 24, 20)
    assert unchanged(doc, before)


def test_expand_lands_at_twice_the_scale(engine):  # noqa: F811
    doc = document(16, 16)
    result = engine.edit(build_request("expand", image=doc.rgb, num_steps=2))
    p = result.placement
    assert p.size == (32, 32) and p.scale == 2 and not p.extends
    out = apply(doc, result)
    assert np.array_equal(out.rgb, result.images[0])
    assert np.array_equal(out.mask, np.repeat(np.repeat(doc.mask, 2, axis=0), 2, axis=1))
    assert np.array_equal(out.alpha, cv2.resize(doc.alpha, (32, 32), interpolation=cv2.INTER_LINEAR))
    assert p.view() == (0.0, 0.0, 0.5) and p.rect(1, 2, 16, 16) == (2, 4, 32, 32)


def test_expanded_alpha_has_no_ringing():
    """The reason the alpha is resized bilinearly: a hard edge stays within one source pixel of where it was."""
    yy, xx = np.mgrid[0:32, 0:32]
    alpha = np.where((yy - 16) ** 2 + (xx - 16) ** 2 < 100, 255, 0).astype(np.uint8)
    doc = Document(np.zeros((32, 32, 3), np.uint8), alpha, np.zeros((32, 32), np.uint8))
    out = apply(doc, lanczos_result(doc.rgb)).alpha
    near = cv2.dilate(cv2.Canny(np.repeat(np.repeat(alpha, 2, 0), 2, 1), 1, 2), np.ones((5, 5), np.uint8)) > 0
    nearest = np.repeat(np.repeat(alpha, 2, 0), 2, 1)
    assert np.array_equal(out[~near], nearest[~near])


def test_generate_is_a_new_image(engine):  # noqa: F811
    result = engine.edit(build_request("generate", num_steps=2))
    assert result.placement.source is None
    out = apply(None, result)
    assert np.array_equal(out.rgb, result.images[0]) and out.alpha is None and not out.mask.any()
    over = apply(document(), result)  # over an open document: nothing of it stays
    assert over.alpha is None and over.mask.shape == result.images[0].shape[:2] and over.mask.dtype == np.uint8


def test_a_result_for_another_size_no_longer_fits():
    result = EditResult([np.zeros((20, 24, 3), np.uint8)], Placement((24, 20), (24, 20), masked=True))
    with pytest.raises(NoLongerFits, match="no longer fits"):
        apply(document(21, 24), result)
    with pytest.raises(NoLongerFits):
        apply(None, result)
    apply(document(20, 24), result)
