"""atomic_write: the old file or the whole new one, never a torn one, and no temporary left behind."""

from __future__ import annotations

import os

import pytest

from arpg_core.files.atomic import atomic_write


def test_success_replaces_the_file_with_the_usual_permissions(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # nothing visible before the block ends
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_keeps_the_old_file_and_leaves_nothing(tmp_path, error):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(error), atomic_write(target) as tmp:
        tmp.write_bytes(b"half")
        raise error()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_safetensors_outputs_get_the_usual_permissions_too(tmp_path):
    """safetensors writes through a 0600 temporary file of its own; the result must still be 0666 - umask."""
    import torch

    from arpg_core.files.checkpoints import save_safetensors

    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "w.safetensors"
    save_safetensors(path, {"x": torch.zeros(2)}, {"kind": "test"})
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]
