"""Training smoke tests on tiny generated images: the loss goes down, and resuming is exact."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import TINY_ARPG, TINY_VQ

from arpg_core.files.checkpoints import load_arpg, load_vq
from arpg_core.nn.config import VQConfig
from arpg_core.nn.tokenizer import VQModel
from arpg_core.training.train import (
    ARPGTrainConfig,
    VQTrainConfig,
    lr_at,
    pretokenize,
    train_arpg,
    train_vq,
)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Eight small synthetic 'photos' (gradients and blobs) with a manifest in prepare-data's format."""
    root = tmp_path_factory.mktemp("photos")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    records = []
    for i in range(8):
        y, x = np.mgrid[0:48, 0:48] / 48.0
        img = np.stack([x * rng.uniform(0.3, 1), y * rng.uniform(0.3, 1), (x + y) / 2], -1) * 255
        cy, cx = rng.integers(8, 40, 2)
        img[(np.mgrid[0:48, 0:48][0] - cy) ** 2 + (np.mgrid[0:48, 0:48][1] - cx) ** 2 < 60] = rng.integers(0, 255, 3)
        name = f"images/p{i}.png"
        Image.fromarray(img.astype(np.uint8)).save(root / name)
        records.append({"file": name, "class": ["a", "b"][i % 2], "split": "heldout" if i == 7 else "train"})
    (root / "manifest.json").write_text(json.dumps({"class_names": ["a", "b"], "images": records}))
    return root


def _log(records):
    return lambda r: records.append(r)


def test_lr_schedule_warms_up_then_decays():
    lrs = [lr_at(s, 100, 1.0, 10, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)


def _same_state(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_tokenizer_loss_goes_down_and_resume_is_exact(photos, tmp_path):
    tc = VQTrainConfig(steps=40, batch=4, crop=16, lr=3e-3, warmup=2, reseed_every=10, checkpoint_every=20)
    log = []
    path = train_vq(photos, tmp_path / "full", TINY_VQ, tc, log=_log(log))
    first, last = np.mean([r["rec"] for r in log[:5]]), np.mean([r["rec"] for r in log[-5:]])
    assert last < 0.7 * first, (first, last)
    assert path.is_file()
    # the same run, interrupted at step 20 and resumed from its checkpoint
    train_vq(photos, tmp_path / "split", TINY_VQ, tc, stop_at=20)
    assert torch.load(tmp_path / "split" / "vq_state.pt", weights_only=True)["step"] == 20
    assert not (tmp_path / "split" / "tokenizer.safetensors").exists()
    train_vq(photos, tmp_path / "split", TINY_VQ, tc)
    full = torch.load(tmp_path / "full" / "vq_state.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "vq_state.pt", weights_only=True)
    assert _same_state(full["model"], split["model"])


def test_arpg_loss_goes_down_and_resume_is_exact(tmp_path):
    gen = torch.Generator().manual_seed(0)
    # learnable structure: every sample repeats one random token, with 10% noise (a copy task)
    codes = torch.randint(0, TINY_ARPG.vocab_size, (128, 1), generator=gen).expand(128, TINY_ARPG.block_size).clone()
    noise = torch.rand(codes.shape, generator=gen) < 0.1
    codes[noise] = torch.randint(0, TINY_ARPG.vocab_size, (int(noise.sum()),), generator=gen)
    labels = torch.randint(0, 2, (128,), generator=gen)
    tc = ARPGTrainConfig(steps=90, batch=16, lr=1e-2, min_lr=1e-3, warmup=3, checkpoint_every=30)
    names = ["a", "b", "c", "d", "e"]
    log = []
    train_arpg(codes, labels, tmp_path / "full", TINY_ARPG, tc, class_names=names, log=_log(log))
    assert np.mean([r["loss"] for r in log[-10:]]) < 0.85 * np.mean([r["loss"] for r in log[:5]])
    for stop in (30, 60, None):  # interrupted twice
        train_arpg(codes, labels, tmp_path / "split", TINY_ARPG, tc, class_names=names, stop_at=stop)
    full = torch.load(tmp_path / "full" / "arpg_state.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "arpg_state.pt", weights_only=True)
    assert full["step"] == split["step"] == 90
    assert _same_state(full["model"], split["model"])
    assert _same_state(full["optimizer"]["state"][0], split["optimizer"]["state"][0])


def _copy_task(n: int = 128):
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(0, TINY_ARPG.vocab_size, (n, 1), generator=gen).expand(n, TINY_ARPG.block_size).clone()
    noise = torch.rand(codes.shape, generator=gen) < 0.1
    codes[noise] = torch.randint(0, TINY_ARPG.vocab_size, (int(noise.sum()),), generator=gen)
    return codes, torch.randint(0, 2, (n,), generator=gen)


def test_bf16_training_learns_and_resumes_exactly(photos, tmp_path):
    """The GPU recipe's arithmetic (bf16 autocast), run on the CPU: both models learn, a resumed run is the same
    run, and the weights come out fp32 (autocast leaves the parameters and the optimizer in fp32)."""
    tc = VQTrainConfig(steps=30, batch=4, crop=16, lr=3e-3, warmup=2, reseed_every=10, checkpoint_every=15)
    log = []
    train_vq(photos, tmp_path / "vq", TINY_VQ, tc, log=_log(log), bf16=True)
    assert np.mean([r["rec"] for r in log[-5:]]) < 0.8 * np.mean([r["rec"] for r in log[:5]])
    train_vq(photos, tmp_path / "vq-split", TINY_VQ, tc, stop_at=15, bf16=True)
    train_vq(photos, tmp_path / "vq-split", TINY_VQ, tc, bf16=True)
    a = torch.load(tmp_path / "vq" / "vq_state.pt", weights_only=True)["model"]
    assert _same_state(a, torch.load(tmp_path / "vq-split" / "vq_state.pt", weights_only=True)["model"])
    assert all(v.dtype == torch.float32 for v in a.values() if v.is_floating_point())

    codes, labels = _copy_task()
    atc = ARPGTrainConfig(steps=60, batch=16, lr=1e-2, min_lr=1e-3, warmup=3, checkpoint_every=30)
    log = []
    train_arpg(codes, labels, tmp_path / "arpg", TINY_ARPG, atc, log=_log(log), bf16=True)
    assert np.mean([r["loss"] for r in log[-10:]]) < 0.85 * np.mean([r["loss"] for r in log[:5]])
    for stop in (30, None):
        train_arpg(codes, labels, tmp_path / "arpg-split", TINY_ARPG, atc, stop_at=stop, bf16=True)
    full = torch.load(tmp_path / "arpg" / "arpg_state.pt", weights_only=True)["model"]
    assert _same_state(full, torch.load(tmp_path / "arpg-split" / "arpg_state.pt", weights_only=True)["model"])
    fp32 = []  # the same first steps in fp32: the same inputs, so close, but not bf16's arithmetic (the first
    # step's loss is log V either way: the head starts at zero)
    train_arpg(codes, labels, tmp_path / "arpg-fp32", TINY_ARPG, atc, log=_log(fp32), stop_at=2)
    assert fp32[1]["loss"] != log[1]["loss"] and fp32[1]["loss"] == pytest.approx(log[1]["loss"], rel=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (a GPU session runs it)")
def test_cuda_training_draws_what_the_cpu_run_draws(photos, tmp_path):
    """On a GPU the crops, orders and jitter come from the same CPU generators, so the first step's inputs are the
    CPU run's; the weights land on the CPU in the run folder and load."""
    codes, labels = _copy_task(64)
    atc = ARPGTrainConfig(steps=2, batch=8, warmup=1, checkpoint_every=1)
    cpu, gpu = [], []
    train_arpg(codes, labels, tmp_path / "cpu", TINY_ARPG, atc, log=_log(cpu))
    train_arpg(codes, labels, tmp_path / "gpu", TINY_ARPG, atc, log=_log(gpu), device="cuda", bf16=True)
    assert gpu[1]["loss"] == pytest.approx(cpu[1]["loss"], rel=0.02)  # same inputs, other arithmetic
    load_arpg(tmp_path / "gpu" / "arpg.safetensors")
    tc = VQTrainConfig(steps=3, batch=4, crop=16, warmup=1, reseed_every=2, checkpoint_every=3)
    train_vq(photos, tmp_path / "vq", TINY_VQ, tc, device="cuda", bf16=True)
    assert (tmp_path / "vq" / "tokenizer.safetensors").is_file()
    train_vq(photos, tmp_path / "vq-dev", TINY_VQ, tc, device="cuda", bf16=True, crops_on_device=True)
    vq, _ = load_vq(tmp_path / "vq-dev" / "tokenizer.safetensors")
    codes, _ = pretokenize(vq, photos, "train", 8, 16, 0, device="cuda", crops_on_device=True)
    assert codes.shape == (8, (16 // TINY_VQ.downsample) ** 2) and codes.device.type == "cpu"


def test_tokenizer_crops_cut_on_the_device_train_alike(photos, tmp_path):
    """crops_on_device (the GPU run's) draws the same crops, resized by torch: the first steps' losses are the CPU
    cut's within a few %, and the codes of pre-tokenized crops mostly agree."""
    tc = VQTrainConfig(steps=3, batch=4, crop=16, warmup=1, reseed_every=0, checkpoint_every=3)
    cut, dev = [], []
    train_vq(photos, tmp_path / "cut", TINY_VQ, tc, log=_log(cut))
    train_vq(photos, tmp_path / "dev", TINY_VQ, tc, log=_log(dev), crops_on_device=True)
    assert [r["loss"] for r in dev] == pytest.approx([r["loss"] for r in cut], rel=0.05)
    vq, _ = load_vq(tmp_path / "dev" / "tokenizer.safetensors")
    a, la = pretokenize(vq, photos, "train", 12, 16, 0)
    b, lb = pretokenize(vq, photos, "train", 12, 16, 0, crops_on_device=True)
    assert torch.equal(la, lb) and (a == b).float().mean() > 0.5


def test_arpg_second_stage_starts_from_the_given_weights(tmp_path):
    gen = torch.Generator().manual_seed(1)
    codes = torch.randint(0, TINY_ARPG.vocab_size, (64, 1), generator=gen).expand(64, TINY_ARPG.block_size).clone()
    labels = torch.randint(0, 2, (64,), generator=gen)
    first = []
    tc = ARPGTrainConfig(steps=60, batch=16, lr=1e-2, min_lr=1e-3, warmup=3)
    train_arpg(codes, labels, tmp_path / "one", TINY_ARPG, tc, log=_log(first))
    trained, _ = load_arpg(tmp_path / "one" / "arpg.safetensors")
    second = []
    still = ARPGTrainConfig(steps=5, batch=16, lr=1e-9, min_lr=1e-9, warmup=1)
    train_arpg(
        codes, labels, tmp_path / "two", TINY_ARPG, still, log=_log(second), init=trained.state_dict(), init_from="one"
    )
    # it goes on from where the first stage ended, not from a random init
    assert np.mean([r["loss"] for r in second]) < 0.5 * np.mean([r["loss"] for r in first[:5]])
    after, meta = load_arpg(tmp_path / "two" / "arpg.safetensors")
    assert meta["train"]["init"] == "one"  # the second stage names what it started from
    pairs = zip(after.state_dict().values(), trained.state_dict().values())
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in pairs)


def test_exported_weights_load_with_their_class_names(tmp_path):
    from arpg_core.files.checkpoints import load_arpg

    codes = torch.randint(0, TINY_ARPG.vocab_size, (8, TINY_ARPG.block_size))
    tc = ARPGTrainConfig(steps=2, batch=4, checkpoint_every=1)
    path = train_arpg(codes, torch.zeros(8, dtype=torch.long), tmp_path, TINY_ARPG, tc, class_names=list("abcde"))
    model, meta = load_arpg(path)
    assert model.cfg == TINY_ARPG and meta["class_names"] == list("abcde")


def test_pretokenize_shapes(photos):
    from tiny import tiny_vq

    codes, labels = pretokenize(tiny_vq(), photos, "train", 5, 16, seed=0, batch=2)
    assert codes.shape == (5, 64) and labels.shape == (5,)


def test_decoder_only_stage_keeps_the_codes(photos, tmp_path):
    from tiny import tiny_vq

    base = tiny_vq()
    tc = VQTrainConfig(steps=4, batch=2, crop=16, lr=1e-3, warmup=1, checkpoint_every=4, decoder_only=True)
    train_vq(photos, tmp_path, TINY_VQ, tc, init=base.state_dict())
    tuned = torch.load(tmp_path / "vq_state.pt", weights_only=True)["model"]
    before = base.state_dict()
    for k, v in tuned.items():
        same = torch.equal(v, before[k])
        if k.startswith(("decoder.", "post_quant_conv.")) or k == "quantize.codebook_used":
            continue  # trained parts, and usage statistics that inference never reads
        assert same, f"{k} changed in the decoder-only stage"
    assert not torch.equal(tuned["decoder.conv_out.weight"], before["decoder.conv_out.weight"])


def test_colour_terms_of_the_tokenizer_loss():
    from dataclasses import replace

    from arpg_core.training.train import opponent_chroma, vq_loss

    grey = torch.full((1, 3, 8, 8), 0.3)
    assert opponent_chroma(grey).abs().max() < 1e-6  # no chroma in a grey image
    green = torch.tensor([-0.2, 0.2, -0.6]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    assert opponent_chroma(green)[0, 0].mean() < 0  # red-green channel: green is negative

    cfg = VQConfig(codebook_size=16, codebook_dim=4, z_channels=8, ch=8, ch_mult=(1, 2), num_groups=4)
    model = VQModel(cfg)
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    plain, parts, _ = vq_loss(model, images, VQTrainConfig())
    assert "chroma" not in parts and "lowpass" not in parts
    tc = replace(VQTrainConfig(), chroma_weight=2.0, lowpass_weight=2.0)
    torch.manual_seed(0)
    total, parts, _ = vq_loss(model, images, tc)
    assert parts["chroma"] > 0 and parts["lowpass"] > 0
    assert total.item() == pytest.approx(plain.item() + parts["chroma"] + parts["lowpass"], rel=1e-5)
    total.backward()
    assert model.decoder.conv_out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--texture-octaves", "9"], "--texture-octaves 9: give 0 to 4"),
        (["--hue-jitter", "1.5"], "--hue-jitter 1.5: give a share between 0 and 1"),
        (["--saturation-jitter", "-1"], "--saturation-jitter -1.0: give a share between 0 and 1"),
        (["--init", "a.safetensors", "--decoder-only", "b.safetensors"], "give one"),
        (["--device", "tpu"], "--device tpu: give cpu, cuda or cuda:N"),
        *(
            []
            if torch.cuda.is_available()
            else [(["--device", "cuda"], "--device cuda: this torch sees no CUDA device")]
        ),
    ],
)
def test_train_tokenizer_bad_flags_get_one_line(photos, tmp_path, capsys, flags, message):
    from arpg_core.cli.main import main

    code = main(["train-tokenizer", str(photos), str(tmp_path / "run"), "--steps", "2", *flags])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_the_gpu_training_script_rehearses_on_the_cpu(photos, tmp_path):
    """scripts/gpu_train.py is the plan for the scarce GPU sessions: on the CPU, with small batches and half a
    minute, it still runs every stage and leaves a pair the engine loads and edits with."""
    import subprocess
    import sys
    from pathlib import Path

    from arpg_core.edit.requests import build_request
    from arpg_core.weights.registry import load_engine

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "out"
    args = ["--device", "cpu", "--minutes", "0.5", "--crops", "64", "--probe", "2", "--batch-div", "16"]
    args += ["--threads", "1", "--runs", str(tmp_path / "runs")]
    run = subprocess.run(
        [sys.executable, str(root / "scripts" / "gpu_train.py"), str(photos), str(out), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((out / "log.jsonl").read_text().splitlines()[-1])["summary"]
    assert list(summary["stages"]) == ["tokenizer", "decoder-1", "decoder-2", "arpg"]  # the v3 decoder stages
    assert all(stage["steps"] >= 2 for stage in summary["stages"].values())
    engine = load_engine(str(out / "embedded-arpg.safetensors"), str(out / "embedded-tokenizer.safetensors"))
    image = np.full((64, 64, 3), 120, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[16:40, 16:40] = True
    result = engine.edit(build_request("inpaint", image=image, mask=mask, num_steps=2, seed=0))
    assert result.images[0].shape == (64, 64, 3)
