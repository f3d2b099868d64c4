"""Region decode against the full decode: pixel error and time, VQ-16 (random weights) and the embedded tokenizer.

    python benchmarks/bench_region_decode.py [--tokenizers vq16,embedded] [--masks 32,64,128] [--window 256]
                                             [--margins 1,2,3,exact] [--splits 1,2] [--repeats 3]

For each tokenizer and each square mask (centred in a --window px window; pasted pixels: the mask feathered
by 8 px, as the engine pastes them) it decodes the window in full (``VQModel.decode``) and with
``arpg_core.nn.local_decode.decode_region`` for every margin and split, with GroupNorm statistics from the crop
("local") and, once per split, from the full pass ("full stats", which needs the full decode: it shows how
much of the error is the statistics'). Errors are over the pasted pixels in 8-bit units, after the
engine's float-to-uint8 mapping: max abs, mean abs, and whether every pasted byte is identical.

VQ-16 uses random weights (PyTorch's default initialisation) and random codes; the embedded tokenizer its
own weights and the codes of a photo from assets/embedded-examples.png. Times are medians of --repeats
calls after a warm-up, with the other programs' load over the calls (cores) next to each: a figure taken
beside other load is not an idle figure.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time

from arpg_core.threads import prepare_process

prepare_process()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tokenizer(name: str, window: int):
    import numpy as np
    import torch
    from PIL import Image

    if name == "vq16":
        from arpg_core.nn.config import VQ_PRESETS
        from arpg_core.nn.tokenizer import VQModel

        torch.manual_seed(0)
        vq = VQModel(VQ_PRESETS["VQ-16"]).eval()
        side = window // vq.cfg.downsample
        codes = torch.randint(0, vq.cfg.codebook_size, (1, side, side), generator=torch.Generator().manual_seed(0))
        return vq, codes
    from arpg_core.files.checkpoints import build_vq, read_checkpoint

    vq = build_vq(read_checkpoint(os.path.join(ROOT, "assets", "embedded-tokenizer.safetensors"))).eval()
    img = np.asarray(Image.open(os.path.join(ROOT, "assets", "embedded-examples.png")).convert("RGB"))
    img = img[:window, :window]
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        codes = vq.encode(x)
    return vq, codes


def timed(fn, repeats: int):
    from arpg_core.threads import _proc_sample, others_busy

    fn()
    walls, loads = [], []
    for _ in range(repeats):
        a, t = _proc_sample(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        b = _proc_sample()
        loads.append(others_busy(a, b) if a and b else float("nan"))
    return statistics.median(walls), max(loads)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizers", default="vq16,embedded")
    ap.add_argument("--masks", default="32,64,128")
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--margins", default="1,2,3,exact")
    ap.add_argument("--splits", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: the thread policy's choice)")
    args = ap.parse_args()

    import numpy as np
    import torch

    from arpg_core import threads
    from arpg_core.edit.edits import feather_alpha
    from arpg_core.nn import local_decode as ld

    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        threads.apply(threads.resolve(72_000_000, env={}))
    print(f"torch threads: {torch.get_num_threads()}; loadavg {os.getloadavg()[0]:.2f}")
    print(
        "| tokenizer | mask px | split | margin (tokens) | stats | crop px | max abs | mean abs | identical "
        "| region s | full s | others' load (cores) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def u8(x):
        return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy().astype(np.int16)

    for name in args.tokenizers.split(","):
        vq, original = tokenizer(name, args.window)
        ds = vq.cfg.downsample
        for size in (int(s) for s in args.masks.split(",")):
            n = args.window
            mask = np.zeros((n, n), bool)
            y0 = x0 = (n - size) // 2
            mask[y0 : y0 + size, x0 : x0 + size] = True
            alpha = feather_alpha(mask, 8)
            box = ld.box_of(alpha)
            pasted = alpha[box.y0 : box.y1, box.x0 : box.x1] > 0
            # the edit: new codes under the mask, the original's elsewhere
            codes = original.clone()
            ty, tx = slice(y0 // ds, -(-(y0 + size) // ds)), slice(x0 // ds, -(-(x0 + size) // ds))
            new = torch.randint(
                0, vq.cfg.codebook_size, codes[:, ty, tx].shape, generator=torch.Generator().manual_seed(1)
            )
            codes[:, ty, tx] = new
            with torch.inference_mode():
                full = vq.decode(codes)
                t_full, load_full = timed(functools.partial(vq.decode, codes), args.repeats)
            ref = u8(full[:, :, box.y0 : box.y1, box.x0 : box.x1])[0][:, pasted]
            for split in (int(s) for s in args.splits.split(",")):
                with torch.inference_mode():
                    same = ld.reference_sums(vq, codes, box, split)[1]
                    stale = ld.reference_sums(vq, original, box, split)[1]
                margins = [ld.exact_margin(vq, split) if m == "exact" else int(m) for m in args.margins.split(",")]
                for margin in sorted(set(margins)):
                    for stats, sums in (("crop's own", None), ("same grid", same), ("original grid", stale)):
                        with torch.inference_mode():
                            out = ld.decode_region(vq, codes, box, margin=margin, split=split, reference=sums)
                            t, load = timed(
                                functools.partial(
                                    ld.decode_region, vq, codes, box, margin=margin, split=split, reference=sums
                                ),
                                args.repeats,
                            )
                        err = np.abs(u8(out)[0][:, pasted] - ref)
                        crop = ld.crop_box(vq, codes.shape[1:], box, margin, split)
                        print(
                            f"| {name} | {size} | {split} | {margin} | {stats} | "
                            f"{crop.y1 - crop.y0}x{crop.x1 - crop.x0} | {err.max()} | {err.mean():.3f} | "
                            f"{'yes' if err.max() == 0 else 'no'} | {t:.3f} | {t_full:.3f} | "
                            f"{max(load, load_full):.2f} |",
                            flush=True,
                        )


if __name__ == "__main__":
    sys.exit(main())
