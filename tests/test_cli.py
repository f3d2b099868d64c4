"""The command line as a subprocess, on tiny random models saved in the official layout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny import tiny_arpg, tiny_vq

from arpg_core.edit.edits import feather_alpha
from arpg_core.files.checkpoints import save_safetensors


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    arpg, vq = tiny_arpg(), tiny_vq()
    names = ["cat", "dog", "house", "tree", "cup"]
    meta = {"kind": "arpg", "config": arpg.cfg.to_dict(), "class_names": names}
    save_safetensors(d / "arpg.safetensors", arpg.state_dict(), meta)
    save_safetensors(d / "vq.safetensors", vq.state_dict(), {"kind": "vq", "config": vq.cfg.to_dict()})
    return ["--model", str(d / "arpg.safetensors"), "--tokenizer", str(d / "vq.safetensors")]


def cli(*args, check=None):
    proc = subprocess.run([sys.executable, "-m", "arpg_core.cli.main", *map(str, args)], capture_output=True, text=True)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def save(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    return save(tmp_path / "photo.png", img), img


def test_inpaint_writes_variants_and_keeps_pixels(tmp_path, models, photo):
    path, img = photo
    mask = np.zeros((40, 48), np.uint8)
    mask[5:15, 5:15] = 255
    mask[25:35, 30:45] = 255
    save(tmp_path / "mask.png", mask)
    out = tmp_path / "out.png"
    proc = cli(
        "inpaint",
        path,
        "--mask",
        tmp_path / "mask.png",
        "-o",
        out,
        "--steps",
        3,
        "--variants",
        2,
        "--seed",
        5,
        "--feather",
        2,
        "--class",
        "dog",
        "--json",
        *models,
        check=0,
    )
    record = json.loads(proc.stdout)
    assert record["seeds"] == [5, 6] and record["class"] == 1
    alpha = feather_alpha(mask > 0, 2)
    for f in record["outputs"]:
        res = np.asarray(Image.open(f))
        assert np.array_equal(res[alpha == 0], img[alpha == 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png", "out-1.png", "out-2.png", "photo.png"]


def test_candidates_keep_the_best_fitting_variants_and_the_record_says_so(tmp_path, models, photo):
    path, _ = photo
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 12:36] = 255
    save(tmp_path / "mask.png", mask)
    args = ("inpaint", path, "--mask", tmp_path / "mask.png", "--steps", 3, "--seed", 5, "--json", *models)
    proc = cli(*args, "-o", tmp_path / "best.png", "--variants", 2, "--candidates", 5, check=0)
    record = json.loads(proc.stdout)
    assert record["request"]["candidates"] == 5 and len(record["outputs"]) == 2
    assert set(record["seeds"]) < {5, 6, 7, 8, 9} and record["fit"] == sorted(record["fit"])
    # a model file has no defaults of its own: one candidate per variant, as sampled
    plain = json.loads(cli(*args, "-o", tmp_path / "plain.png", "--variants", 2, check=0).stdout)
    assert plain["request"]["candidates"] == 1 and plain["seeds"] == [5, 6] and "fit" not in plain


def test_outpaint_expand_generate(tmp_path, models, photo):
    path, img = photo
    proc = cli("outpaint", path, "--left", 8, "--bottom", 6, "-o", tmp_path / "o.png", "--steps", 2, *models, check=0)
    out = np.asarray(Image.open(tmp_path / "o.png"))
    assert out.shape == (46, 56, 3) and np.array_equal(out[:40, 8:], img)
    cli("expand", path, "-o", tmp_path / "e.png", "--lanczos", tmp_path / "l.png", "--steps", 2, *models, check=0)
    assert Image.open(tmp_path / "e.png").size == (96, 80) == Image.open(tmp_path / "l.png").size
    proc = cli("generate", "--class", 3, "-o", tmp_path / "g.webp", "--steps", 4, "--json", *models, check=0)
    assert Image.open(tmp_path / "g.webp").size == (16, 16)
    assert json.loads(proc.stdout)["request"]["steps"] == 4


def test_int8_fast_mode_from_the_command_line(tmp_path, models, photo):
    path, img = photo
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 10:30] = 255
    save(tmp_path / "mask.png", mask)
    args = ("inpaint", path, "--mask", tmp_path / "mask.png", "--steps", 3, "--seed", 2, "--feather", 0, "--json")
    fp32 = json.loads(cli(*args, "-o", tmp_path / "a.png", *models, check=0).stdout)
    int8 = json.loads(cli(*args, "-o", tmp_path / "b.png", "--precision", "int8", *models, check=0).stdout)
    assert (fp32["precision"], int8["precision"]) == ("fp32", "int8") and int8["device"] == "cpu"
    out = np.asarray(Image.open(tmp_path / "b.png"))
    assert np.array_equal(out[mask == 0], img[mask == 0])


def test_same_seed_same_file(tmp_path, models, photo):
    path, _ = photo
    for name in ("a.png", "b.png"):
        cli("outpaint", path, "--right", 10, "-o", tmp_path / name, "--seed", 1, "--steps", 2, *models, check=0)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_existing_output_needs_force(tmp_path, models, photo):
    path, _ = photo
    out = tmp_path / "o.png"
    out.write_bytes(b"keep")
    proc = cli("outpaint", path, "--right", 4, "-o", out, *models)
    assert proc.returncode != 0 and "exists" in proc.stderr and out.read_bytes() == b"keep"
    cli("outpaint", path, "--right", 4, "-o", out, "--force", "--steps", 2, *models, check=0)
    assert out.read_bytes() != b"keep"


def test_alpha_and_icc_are_kept(tmp_path, models):
    rgba = np.random.default_rng(1).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    icc = b"\0" * 128  # an opaque blob is enough: it must travel through unchanged
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png", icc_profile=icc)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:16, 8:16] = 255
    save(tmp_path / "m.png", mask)
    cli(
        "inpaint",
        tmp_path / "a.png",
        "--mask",
        tmp_path / "m.png",
        "-o",
        tmp_path / "o.png",
        "--steps",
        2,
        *models,
        check=0,
    )
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "RGBA" and out.info.get("icc_profile") == icc
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_exif_orientation_is_applied(tmp_path, models):
    img = np.zeros((20, 40, 3), np.uint8)  # landscape pixels, tagged "rotate 90": portrait on screen
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "r.jpg", exif=exif.tobytes())
    cli("expand", tmp_path / "r.jpg", "-o", tmp_path / "o.png", "--steps", 2, *models, check=0)
    assert Image.open(tmp_path / "o.png").size == (40, 80)


def _bad_inputs(tmp_path, photo_path):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    data = Path(photo_path).read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image")
    save(tmp_path / "small_mask.png", np.full((10, 10), 255, np.uint8))
    save(tmp_path / "empty_mask.png", np.zeros((40, 48), np.uint8))
    save(tmp_path / "mask.png", np.full((40, 48), 255, np.uint8))
    Image.new("L", (9000, 9000)).save(tmp_path / "bomb.png")
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")
    p = str(photo_path)
    return [
        (["inpaint", tmp_path / "missing.png", "--mask", tmp_path / "mask.png"], "no such file"),
        (["inpaint", tmp_path / "corrupt.png", "--mask", tmp_path / "mask.png"], "truncated or corrupt"),
        (["inpaint", tmp_path / "trunc.png", "--mask", tmp_path / "mask.png"], "truncated or corrupt"),
        (["inpaint", tmp_path / "text.png", "--mask", tmp_path / "mask.png"], "not an image"),
        (["inpaint", p, "--mask", tmp_path / "small_mask.png"], "the mask is 10x10 but the image is 48x40"),
        (["inpaint", p, "--mask", tmp_path / "empty_mask.png"], "the mask is empty"),
        (["expand", tmp_path / "bomb.png"], "decompression bomb"),
        (["outpaint", p, "--left", -4], "--left must be a whole number between 0 and 8192 px, got -4"),
        (["outpaint", p], "nothing to extend"),
        (["inpaint", p, "--mask", tmp_path / "mask.png", "--class", "unicorn"], "unknown class 'unicorn'"),
        (["inpaint", p, "--mask", tmp_path / "mask.png", "--class", "77"], "class 77 is out of range"),
        (["expand", p, "--steps", 0], "--steps must be a whole number between 1 and 1024, got 0"),
        (["expand", p, "--lock", -1], "--lock must be a number between 0 and 16 px, got -1"),
        (["outpaint", p, "--left", 8, "--colour-match", 65], "--colour-match must be a number between 0 and 64 px"),
        (["inpaint", p, "--mask", tmp_path / "mask.png", "--candidates", 0], "--candidates must be a whole number"),
        (["outpaint", p, "--left", 8, "--detail", 3], "--detail must be a number between 0 and 2"),
    ]


def test_bad_inputs_get_one_line_and_no_file(tmp_path, models, photo, capsys):
    """Every case in-process through the same entry point (fast); two of them again as real subprocesses."""
    from arpg_core.cli.main import main

    path, _ = photo
    cases = _bad_inputs(tmp_path, path)
    out = tmp_path / "never.png"
    for args, message in cases:
        code = main([*map(str, args), "-o", str(out), *models])
        err = capsys.readouterr().err
        assert code != 0, args
        assert message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    for args, message in (cases[1], cases[5]):
        proc = cli(*args, "-o", out, *models)
        assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr
        assert not out.exists()


def test_unreadable_model_file(tmp_path, models, photo):
    path, _ = photo
    (tmp_path / "m.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")
    proc = cli(
        "expand", path, "-o", tmp_path / "o.png", "--model", tmp_path / "m.safetensors", "--tokenizer", models[3]
    )
    assert proc.returncode != 0 and "not a readable safetensors file" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.png").exists()


def test_convert_command(tmp_path):
    import torch

    torch.save({"model": tiny_vq().state_dict()}, tmp_path / "vq.pt")
    proc = cli("convert", tmp_path / "vq.pt", tmp_path / "vq.safetensors", check=0)
    assert "VQ tokenizer" in proc.stdout
    proc = cli("convert", tmp_path / "vq.pt", tmp_path / "vq.safetensors")
    assert proc.returncode != 0 and "exists" in proc.stderr


def test_official_layout_pt_files_with_imagenet_classes(tmp_path, photo):
    """Pickled .pt files in the official layout (1000 classes, head_dim 64) load with no flags."""
    import torch

    from arpg_core.nn.config import ARPGConfig

    cfg = ARPGConfig(dim=128, n_layer=2, n_head=2, vocab_size=64, num_classes=1000, block_size=64, multiple_of=64)
    torch.save({"state_dict": tiny_arpg(cfg=cfg).state_dict(), "steps": 1}, tmp_path / "arpg_official.pt")
    torch.save({"model": tiny_vq().state_dict()}, tmp_path / "vq_official.pt")
    path, _ = photo
    models = ["--model", tmp_path / "arpg_official.pt", "--tokenizer", tmp_path / "vq_official.pt"]
    proc = cli(
        "outpaint",
        path,
        "--top",
        8,
        "-o",
        tmp_path / "o.png",
        "--class",
        "golden retriever",
        "--steps",
        2,
        "--json",
        *models,
        check=0,
    )
    assert json.loads(proc.stdout)["class"] == 207
    assert Image.open(tmp_path / "o.png").size == (48, 48)


def test_help_lists_every_command_and_how_to_start_the_app(capsys):
    from arpg_core.cli.main import command_names, main

    with pytest.raises(SystemExit) as exit_:
        main(["-h"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "arpg-studio [IMAGE]" in out and "--selftest" in out
    listed = [line.split()[0] for line in out.split("commands (")[1].splitlines()[1:] if line.strip()]
    assert listed == list(dict.fromkeys(listed)) and sorted(listed) == command_names()
