"""Training the tokenizer and ARPG on a folder of photos, resumable: fp32 on the CPU (the embedded recipe),
or on a CUDA device with bf16 autocast (``device``, ``bf16``) for a GPU session.

Tokenizer: reconstruction (MSE + L1) plus codebook and commitment losses, on random crops; unused
codes are re-seeded from recent encoder outputs so the codebook stays in use.
ARPG, as the official recipe: a random permutation per sample (the model's teacher-forced forward
rotates inputs and queries by the permuted positions, the class slot fixed), causal masks in both
passes, class dropout to the null class, AdamW (0.9, 0.95) with weight decay 0.05, linear warm-up then
cosine decay, gradient clipping at 1.0. Crops are tokenized once before ARPG training.

Checkpoints hold the model, the optimizer, the step and every random state, so a resumed run
continues exactly as an uninterrupted one would. Every random draw is made on the CPU from the run's
generators and moved to the device, so a run's crops, orders and jitter are the same on any device; only
the arithmetic differs.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from arpg_core.files.atomic import atomic_write
from arpg_core.files.checkpoints import save_safetensors
from arpg_core.nn.config import ARPGConfig, VQConfig
from arpg_core.nn.model import ARPG
from arpg_core.nn.precision import bf16_autocast
from arpg_core.nn.tokenizer import VQModel
from arpg_core.progress import ProgressBar
from arpg_core.training.crops import CropStream, DeviceCropStream


@dataclass(frozen=True)
class VQTrainConfig:
    steps: int = 6000
    batch: int = 16
    crop: int = 64
    lr: float = 2e-4
    warmup: int = 200
    reseed_every: int = 200  # steps between re-seeding dead codes; 0 = never
    l1_weight: float = 1.0
    mse_weight: float = 1.0
    # Colour terms (0 = the first embedded tokenizer's recipe). Natural images vary least along the
    # red-green axis, so a pixel loss alone lets a small bottleneck drop it (assets/MODEL_CARD.md):
    chroma_weight: float = 0.0  # L1 on the two opponent chroma channels
    lowpass_weight: float = 0.0  # L1 on the token-cell means (the colour and coarse shape of each cell)
    # L1 between each cell's mean colour (luma and the two opponent chroma channels, chroma x2) and what a
    # small training-only head reads from that cell's quantised code: the code itself must carry the colour,
    # where the losses above only ask the decoder for it and leave it free to guess from texture.
    code_colour_weight: float = 0.0
    hue_jitter: float = 0.0  # share of crops whose hues are rotated by a random angle (all hues get seen)
    saturation_jitter: float = 0.0  # share of crops whose chroma is scaled by 1-2x (saturated colours get seen)
    # L1 between the local energy of the Laplacian (its absolute value, averaged over each token cell) of the
    # reconstruction and of the input: a pixel loss alone rewards a blur where the texture cannot be known
    # exactly; this asks for as much texture as the input has, without asking for its exact phase.
    texture_weight: float = 0.0
    # 0: the texture term compares one band (the Laplacian above). N >= 1: it compares the horizontal and
    # vertical gradient energy at N octaves, each pooled over the token cells. A regular lattice a few
    # pixels wide has energy at the finest octave only, where real texture has it at all of them, so the
    # decoder can no longer meet the term with a fixed fine pattern (assets/MODEL_CARD.md, "Texture").
    texture_octaves: int = 0
    seed: int = 0
    checkpoint_every: int = 250
    # Second stage: train only the decoder (at the full window size) on top of a trained tokenizer.
    # The encoder and codebook stay frozen, so the codes, and any ARPG trained on them, stay valid.
    decoder_only: bool = False


@dataclass(frozen=True)
class ARPGTrainConfig:
    steps: int = 1500
    batch: int = 32
    lr: float = 4e-4
    min_lr: float = 4e-5
    warmup: int = 100
    weight_decay: float = 0.05
    class_dropout: float = 0.1
    grad_clip: float = 1.0
    num_crops: int = 12000  # pre-tokenized training crops (with their flips)
    crop: int = 128
    seed: int = 0
    checkpoint_every: int = 100


def lr_at(step: int, total: int, peak: float, warmup: int, floor: float = 0.0) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``floor`` at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * t))


# --- tokenizer --------------------------------------------------------------------------------------


# RGB -> the two opponent chroma channels: red-green (close to CIELAB a*) and yellow-blue (close to b*).
_CHROMA = torch.tensor([[0.5, -0.5, 0.0], [0.25, 0.25, -0.5]])


def opponent_chroma(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 2, H, W) red-green and yellow-blue differences."""
    return torch.einsum("cr,brhw->bchw", _CHROMA.to(images), images)


def cell_colour(images: torch.Tensor, ds: int) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 3, H/ds, W/ds): each cell's mean luma and opponent chroma (chroma x2)."""
    luma = images.mean(1, keepdim=True)  # (B, 1, H, W)
    return F.avg_pool2d(torch.cat([luma, 2 * opponent_chroma(images)], 1), ds)


def colour_head(codebook_dim: int) -> torch.nn.Module:
    """Training-only readout of a cell's colour from its quantised code (never shipped)."""
    return torch.nn.Sequential(torch.nn.Conv2d(codebook_dim, 64, 1), torch.nn.SiLU(), torch.nn.Conv2d(64, 3, 1))


# YIQ: luma and two chroma axes; a hue rotation turns the (I, Q) plane and keeps luma.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _jitter_in_yiq(images: torch.Tensor, share: float, generator: torch.Generator, transform) -> torch.Tensor:
    """Apply ``transform(u)`` (u: a 0-d tensor uniform in [0, 1) -> a (3, 3) map of YIQ) to a random ``share`` of
    the crops (B, 3, H, W) in [-1, 1], each with its own u; luma stays where the map keeps Y."""
    if share <= 0:
        return images
    pick = torch.rand(images.shape[0], generator=generator) < share
    u = torch.rand(images.shape[0], generator=generator)
    out = images.clone()
    for i in pick.nonzero()[:, 0].tolist():
        m = torch.linalg.inv(_YIQ) @ transform(u[i]) @ _YIQ  # (3, 3) RGB -> RGB, drawn on the CPU
        out[i] = torch.einsum("cr,rhw->chw", m.to(images), images[i]).clamp(-1, 1)
    return out


def _hue_rotation(u: torch.Tensor) -> torch.Tensor:
    angle = u * 2 * math.pi
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _chroma_gain(u: torch.Tensor) -> torch.Tensor:
    gain = float(1 + u)
    return torch.diag(torch.tensor([1.0, gain, gain]))


def hue_jitter(images: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate the hue of a random ``share`` of the crops (B, 3, H, W) in [-1, 1] by a random angle."""
    return _jitter_in_yiq(images, share, generator, _hue_rotation)


def saturation_jitter(images: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Scale the chroma (YIQ's I and Q, luma kept) of a random ``share`` of the crops by a random 1-2x."""
    return _jitter_in_yiq(images, share, generator, _chroma_gain)


_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def texture_energy(images: torch.Tensor, ds: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H/ds, W/ds): mean |Laplacian| of the luma over each cell."""
    luma = images.mean(1, keepdim=True)  # (B, 1, H, W)
    return F.avg_pool2d(F.conv2d(luma, _LAPLACE.to(images), padding=1).abs(), ds)


def band_energy(images: torch.Tensor, ds: int, octaves: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 2 * octaves, H/ds, W/ds): mean |d/dx| and |d/dy| of the luma over each cell,
    at ``octaves`` scales (the luma average-pooled by 1, 2, 4, ...)."""
    luma = images.mean(1, keepdim=True)  # (B, 1, H, W)
    bands = []
    for o in range(octaves):
        lo = F.avg_pool2d(luma, 2**o) if o else luma  # (B, 1, H/2^o, W/2^o)
        dx = F.pad((lo[..., :, 1:] - lo[..., :, :-1]).abs(), (0, 1, 0, 0))  # (B, 1, h, w), last column 0
        dy = F.pad((lo[..., 1:, :] - lo[..., :-1, :]).abs(), (0, 0, 0, 1))
        cell = max(1, ds // 2**o)
        bands += [F.avg_pool2d(dx, cell), F.avg_pool2d(dy, cell)]  # (B, 1, H/ds, W/ds) each
    return torch.cat(bands, 1)


def vq_loss(
    model: VQModel, images: torch.Tensor, tc: VQTrainConfig, head: torch.nn.Module | None = None
) -> tuple[torch.Tensor, dict, torch.Tensor]:
    latent = model.encode_latent(images)
    with torch.autocast(latent.device.type, enabled=False):  # the nearest code in fp32 under a bf16 run too
        z_q, codes, vq_losses = model.quantize.forward_train(latent.float())
    recon = model.decode_latent(z_q)
    rec = tc.mse_weight * F.mse_loss(recon, images) + tc.l1_weight * F.l1_loss(recon, images)
    parts = {"rec": rec.item()}
    if head is not None and tc.code_colour_weight:
        cc = tc.code_colour_weight * F.l1_loss(head(z_q), cell_colour(images, model.cfg.downsample))
        rec, parts["code_colour"] = rec + cc, cc.item()
    if tc.texture_weight:
        ds = model.cfg.downsample
        if tc.texture_octaves:
            r, i = band_energy(recon, ds, tc.texture_octaves), band_energy(images, ds, tc.texture_octaves)
        else:
            r, i = texture_energy(recon, ds), texture_energy(images, ds)
        tex = tc.texture_weight * F.l1_loss(r, i)
        rec, parts["texture"] = rec + tex, tex.item()
    if tc.chroma_weight:
        col = tc.chroma_weight * F.l1_loss(opponent_chroma(recon), opponent_chroma(images))
        rec, parts["chroma"] = rec + col, col.item()
    if tc.lowpass_weight:
        ds = model.cfg.downsample
        low = tc.lowpass_weight * F.l1_loss(F.avg_pool2d(recon, ds), F.avg_pool2d(images, ds))
        rec, parts["lowpass"] = rec + low, low.item()
    total = rec + sum(vq_losses.values())
    return total, {**parts, **{k: v.item() for k, v in vq_losses.items()}}, codes


def _crop_stream(data_dir, split: str, size: int, seed: int, workers: int, device) -> CropStream:
    """The crops of one split, cut on the CPU, or on ``device`` when it is given."""
    gen = torch.Generator().manual_seed(seed)
    if device is not None:
        return DeviceCropStream(data_dir, split, size, generator=gen, device=device)
    return CropStream(data_dir, split, size, generator=gen, workers=workers)


def reseed_dead_codes(model: VQModel, latents: torch.Tensor, used: torch.Tensor, generator: torch.Generator) -> int:
    """Replace codebook rows not used since the last call by random recent encoder outputs."""
    dead = (~used).nonzero()[:, 0]
    if dead.numel() == 0:
        return 0
    pool = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])  # (B*h*w, dim)
    pick = torch.randint(0, pool.shape[0], (dead.numel(),), generator=generator)  # on the CPU, as every draw
    weight = model.quantize.embedding.weight
    with torch.no_grad():
        weight[dead.to(weight.device)] = pool[pick.to(pool.device)].to(weight.dtype)
    return dead.numel()


def train_vq(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    vq_cfg: VQConfig,
    tc: VQTrainConfig = VQTrainConfig(),
    *,
    log=None,
    stop_at: int | None = None,
    init: dict | None = None,
    device: str = "cpu",
    bf16: bool = False,
    workers: int = 0,
    crops_on_device: bool = False,
) -> Path:
    """Train (or resume) a tokenizer; returns the path of the final safetensors weights.

    ``init``: a state dict to start from (for the decoder-only stage). ``device``: where the model runs;
    ``bf16``: its forward passes under bf16 autocast (weights and optimizer stay fp32). ``workers``: threads
    that cut the crops (the same crops as without). ``crops_on_device``: cut them on ``device`` instead
    (:class:`DeviceCropStream`: the same draws, resized by torch).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    torch.manual_seed(tc.seed)
    model = VQModel(vq_cfg)
    if init is not None:
        model.load_state_dict(init)
    head = colour_head(vq_cfg.codebook_dim) if tc.code_colour_weight and not tc.decoder_only else None
    model.to(dev)
    if head is not None:
        head.to(dev)
    # What the checkpoint holds: the tokenizer, and the colour head beside it when there is one.
    trained = torch.nn.ModuleDict({"vq": model, "head": head}) if head is not None else model
    params = trained.parameters()
    if tc.decoder_only:
        for p in model.parameters():
            p.requires_grad_(False)
        params = [*model.post_quant_conv.parameters(), *model.decoder.parameters()]
        if vq_cfg.colour_path:
            params += list(model.colour_out.parameters())
        for p in params:
            p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=tc.lr, betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(tc.seed)
    stream = _crop_stream(data_dir, "train", tc.crop, tc.seed + 1, workers, device if crops_on_device else None)
    used = torch.zeros(vq_cfg.codebook_size, dtype=torch.bool)
    step = _resume(out / "vq_state.pt", trained, opt, {"gen": gen, "stream": stream.generator}, extra={"used": used})
    bar = ProgressBar(tc.steps, "tokenizer", start=step)
    model.train()
    end = min(tc.steps, stop_at or tc.steps)
    while step < end:
        t0 = time.perf_counter()
        images = stream.batch(tc.batch)[0].to(dev)
        images = hue_jitter(images, tc.hue_jitter, gen)  # the draws on the CPU, the colour maps on the device
        images = saturation_jitter(images, tc.saturation_jitter, gen)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, tc.steps, tc.lr, tc.warmup, tc.lr * 0.1)
        with bf16_autocast(dev, bf16):
            loss, parts, codes = vq_loss(model, images, tc, head)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
        opt.step()
        used[codes.flatten().cpu()] = True
        step += 1
        if tc.reseed_every and not tc.decoder_only and step % tc.reseed_every == 0 and step < tc.steps * 0.8:
            with torch.no_grad(), bf16_autocast(dev, bf16):
                latents = model.encode_latent(images)
            parts["reseeded"] = reseed_dead_codes(model, latents, used, gen)
            used.zero_()
        bar.update(step, loss=loss.item(), img_s=tc.batch / (time.perf_counter() - t0), **parts)
        if log:
            log({"step": step, "loss": loss.item(), **parts})
        if step % tc.checkpoint_every == 0 or step == end:
            _save_state(
                out / "vq_state.pt",
                trained,
                opt,
                step,
                {"gen": gen, "stream": stream.generator},
                {"used": used},
            )
    bar.close()
    final = out / "tokenizer.safetensors"
    if step < tc.steps:
        return final  # stopped early on purpose: resume later
    meta = {"kind": "vq", "config": vq_cfg.to_dict(), "train": asdict(tc)}
    save_safetensors(final, model.state_dict(), meta)
    return final


# --- ARPG ---------------------------------------------------------------------------------------------


@torch.no_grad()
def pretokenize(
    vq: VQModel,
    data_dir,
    split: str,
    n: int,
    crop: int,
    seed: int,
    batch: int = 64,
    device: str = "cpu",
    workers: int = 0,
    crops_on_device: bool = False,
):
    """Tokenize ``n`` random crops once: codes (n, h*w) in raster order and class ids (n,), on the CPU.
    The encode runs in fp32 on ``device`` (in bf16 a few % of the codes would change); ``crops_on_device``
    cuts the crops there too."""
    stream = _crop_stream(data_dir, split, crop, seed, workers, device if crops_on_device else None)
    vq.eval().to(device)
    codes, labels = [], []
    bar = ProgressBar(n, f"tokenizing {split} crops", unit="crop")
    while sum(c.shape[0] for c in codes) < n:
        images, y = stream.batch(min(batch, n - sum(c.shape[0] for c in codes)))
        codes.append(vq.encode(images.to(device)).flatten(1).cpu())
        labels.append(y)
        bar.update(sum(c.shape[0] for c in codes))
    bar.close()
    return torch.cat(codes), torch.cat(labels)


def arpg_loss(
    model: ARPG, tokens: torch.Tensor, labels: torch.Tensor, generator: torch.Generator, class_dropout: float
):
    """Cross-entropy of teacher-forced logits under one random order per sample."""
    B, L = tokens.shape
    cfg = model.cfg
    drop = (torch.rand(B, generator=generator) < class_dropout).to(tokens.device)  # drawn on the CPU
    ids = torch.where(drop, torch.full_like(labels, cfg.num_classes), labels)
    class_ids = cfg.vocab_size + 1 + ids  # label C (dropped) lands on the null class id
    orders = torch.argsort(torch.rand(B, L, generator=generator), dim=1).to(tokens.device)  # (B, L)
    logits = model(tokens, class_ids, orders)  # (B, L, V), in shuffled order
    targets = torch.gather(tokens, 1, orders)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def train_arpg(
    codes: torch.Tensor,
    labels: torch.Tensor,
    out_dir: str | os.PathLike,
    cfg: ARPGConfig,
    tc: ARPGTrainConfig = ARPGTrainConfig(),
    *,
    class_names: list[str] | None = None,
    log=None,
    stop_at: int | None = None,
    init: dict | None = None,
    init_from: str | None = None,
    device: str = "cpu",
    bf16: bool = False,
) -> Path:
    """Train (or resume) ARPG on pre-tokenized crops; returns the path of the final safetensors weights.

    ``init``: a state dict to start from instead of the random init (a second stage with a fresh
    optimizer and LR schedule); ``init_from`` names it in the weights' metadata. A checkpoint in
    ``out_dir`` still wins: resuming is always exact. ``device`` and ``bf16`` as for ``train_vq``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    torch.manual_seed(tc.seed)
    model = ARPG(cfg)
    _init_arpg(model)
    if init is not None:
        model.load_state_dict(init)
    model.to(dev)
    codes, labels = codes.to(dev), labels.to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=tc.lr,
        betas=(0.9, 0.95),
    )
    gen = torch.Generator().manual_seed(tc.seed)
    step = _resume(out / "arpg_state.pt", model, opt, {"gen": gen})
    bar = ProgressBar(tc.steps, "arpg", start=step)
    model.train()
    end = min(tc.steps, stop_at or tc.steps)
    while step < end:
        t0 = time.perf_counter()
        idx = torch.randint(0, codes.shape[0], (tc.batch,), generator=gen).to(dev)
        lr = lr_at(step, tc.steps, tc.lr, tc.warmup, tc.min_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        with bf16_autocast(dev, bf16):
            loss = arpg_loss(model, codes[idx], labels[idx], gen, tc.class_dropout)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
        bar.update(step, loss=loss.item(), lr=lr, seq_s=tc.batch / (time.perf_counter() - t0))
        if log:
            log({"step": step, "loss": loss.item(), "lr": lr})
        if step % tc.checkpoint_every == 0 or step == end:
            _save_state(out / "arpg_state.pt", model, opt, step, {"gen": gen})
            # usable weights at every checkpoint, so a run cut short still leaves a model behind
            train = {**asdict(tc), "done_steps": step, **({"init": init_from} if init_from else {})}
            meta = {"kind": "arpg", "config": cfg.to_dict(), "train": train}
            if class_names is not None:
                meta["class_names"] = class_names
            save_safetensors(out / "arpg.safetensors", model.state_dict(), meta)
    bar.close()
    return out / "arpg.safetensors"


@torch.no_grad()
def bits_per_token(model: ARPG, codes: torch.Tensor, labels: torch.Tensor, seed: int = 0, batch: int = 32) -> float:
    """Held-out cross-entropy in bits per token, under random orders (the training objective)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for i in range(0, codes.shape[0], batch):
        loss = arpg_loss(model, codes[i : i + batch], labels[i : i + batch], gen, 0.0)
        total += loss.item() * codes[i : i + batch].numel()
        count += codes[i : i + batch].numel()
    return total / count / math.log(2)


def unigram_entropy_bits(codes: torch.Tensor, vocab: int) -> float:
    p = torch.bincount(codes.flatten(), minlength=vocab).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log2()).sum())


# --- helpers ---------------------------------------------------------------------------------------


def _init_arpg(model: ARPG) -> None:
    """Normal(0, 0.02) weights with a zero head, as the official init does."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(m.weight, std=0.02)
    torch.nn.init.zeros_(model.head.weight)


def _save_state(path: Path, model, opt, step: int, generators: dict, extra: dict | None = None) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "generators": {k: g.get_state() for k, g in generators.items()},
        "torch_rng": torch.get_rng_state(),
        "extra": extra or {},
    }
    with atomic_write(path) as tmp:
        torch.save(state, tmp)


def _resume(path: Path, model, opt, generators: dict, extra: dict | None = None) -> int:
    if not path.is_file():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    for k, g in generators.items():
        g.set_state(state["generators"][k])
    torch.set_rng_state(state["torch_rng"])
    for k, v in (extra or {}).items():
        v.copy_(state["extra"][k])
    return int(state["step"])
