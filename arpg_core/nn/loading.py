"""Models from weights without extra copies, and int8 quantization in place.

A model built the ordinary way allocates (and randomly initialises) a full set of weights, then copies the
file's state dict into them: two copies of every weight at the peak, plus the time of the random init. Here
the model is built with its initialisers switched off (its weights are allocated, never touched, so they
take no resident memory) and the state dict's tensors become its parameters (``load_state_dict(assign=True)``):
one copy, the one read from the file.

``quantize_int8_`` swaps each Linear for its int8 version one at a time, in the same model, so the fp32
weights of a layer are freed as soon as its int8 version exists (when nothing else holds them: callers drop
their state dict first).
"""

from __future__ import annotations

import threading
import warnings

import torch
from torch import nn

_INITS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
)
_init_lock = threading.Lock()


def meta_model(factory):
    """``factory()`` with its weights allocated but never initialised: the memory is not touched, so it costs
    neither time nor resident memory, and ``load_state_dict(assign=True)`` replaces it with the file's tensors.

    (Building on the ``meta`` device does the same but imports torch's Python reference kernels on first use:
    about 1.3 s of CPU, more than the rest of the build.)"""
    with _init_lock:
        saved = {name: getattr(nn.init, name) for name in _INITS}
        try:
            for name in _INITS:
                setattr(nn.init, name, _skip)
            return factory()
        finally:
            for name, fn in saved.items():
                setattr(nn.init, name, fn)


def _skip(tensor, *args, **kwargs):
    return tensor


def finish(model: nn.Module) -> nn.Module:
    """Check that every parameter and buffer holds values from the file or from ``__init__`` (none on meta)."""
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"{type(model).__name__}: no values for {', '.join(left[:5])}")
    return model


def quantize_int8_(model: nn.Module, weights: dict[str, tuple[torch.Tensor, float, int]] | None = None) -> nn.Module:
    """Replace every nn.Linear of ``model`` by a dynamically quantized int8 Linear, in place, layer by layer.

    The same int8 weights as ``torch.ao.quantization.quantize_dynamic`` (its weight observer, per-tensor
    qint8), packed once: the library's ``from_float`` first packs a full-size placeholder weight, then the
    real one, and packing is most of the time (ARPG-L: 1.7 s of CPU against 1.1 s here).

    ``weights``: {module name: (int8 values, scale, zero point)} to use instead of quantizing (the int8
    cache, arpg_core.weights.int8_cache); every other Linear is quantized."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import default_dynamic_qconfig

        targets = [
            (parent, f"{prefix}.{name}" if prefix else name, name)
            for prefix, parent in model.named_modules()
            for name, child in parent.named_children()
            if type(child) is nn.Linear
        ]
        for parent, full, name in targets:
            child = getattr(parent, name)
            if weights is not None and full in weights:
                values, scale, zero_point = weights[full]
                qweight = torch._make_per_tensor_quantized_tensor(values, scale, zero_point)
            else:
                observer = default_dynamic_qconfig.weight()
                observer(child.weight)
                scale, zero_point = observer.calculate_qparams()
                qweight = torch.quantize_per_tensor(child.weight, float(scale), int(zero_point), torch.qint8)
            q = DynamicLinear(1, 1, bias_=child.bias is not None, dtype=torch.qint8)  # a 1x1 placeholder
            q.set_weight_bias(qweight, None if child.bias is None else child.bias.detach())
            q.in_features, q.out_features = child.in_features, child.out_features
            setattr(parent, name, q)
            del child, qweight  # its fp32 weight goes now, not after the whole model
    return model


def int8_weights(model: nn.Module) -> dict[str, tuple[torch.Tensor, float, int]]:
    """{module name: (int8 values, scale, zero point)} of every int8 Linear of a quantized model."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    out = {}
    for name, module in model.named_modules():
        if isinstance(module, DynamicLinear):
            w = module.weight()
            out[name] = (w.int_repr(), float(w.q_scale()), int(w.q_zero_point()))
    return out


# --- safetensors, read into memory this process owns ---------------------------------------------------

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and raw metadata of a safetensors file, each tensor read straight into its own memory.

    ``safetensors.torch.load_file`` copies every tensor out of a memory map of the whole file, and the mapped
    pages count in the process's resident memory until the map closes: twice the weights at the peak. Reading
    each tensor with ``readinto`` needs no map, so the peak is the tensors themselves. Raises ValueError for a
    header that does not describe the file (offsets outside it, sizes that do not match dtype and shape).
    """
    import json
    import math
    import os

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = int.from_bytes(f.read(8), "little")
        if size < 8 or not 0 < n <= size - 8:
            raise ValueError(f"header length {n} does not fit a file of {size} bytes")
        header = json.loads(f.read(n))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        base = 8 + n
        tensors = {}
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            dtype = _DTYPES.get(info.get("dtype"))
            if dtype is None:
                raise ValueError(f"{name}: unsupported dtype {info.get('dtype')!r}")
            shape = [int(d) for d in info["shape"]]
            start, end = (int(x) for x in info["data_offsets"])
            itemsize = torch.empty((), dtype=dtype).element_size()
            if any(d < 0 for d in shape) or end - start != math.prod(shape) * itemsize or not 0 <= start <= end:
                raise ValueError(f"{name}: {end - start} bytes for shape {shape} of {info['dtype']}")
            if base + end > size:
                raise ValueError(f"{name}: its data ends past the end of the file")
            buf = torch.empty(end - start, dtype=torch.uint8)
            f.seek(base + start)
            if end > start and f.readinto(buf.numpy()) != end - start:
                raise ValueError(f"{name}: the file ends inside its data")
            tensors[name] = buf.view(dtype).reshape(shape)
    return tensors, {str(k): str(v) for k, v in metadata.items()}
