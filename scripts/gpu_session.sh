#!/usr/bin/env bash
# One device call: the CUDA training test, scripts/gpu_train.py once per tokenizer size (side by side when more
# than one), then the quality tests' tokenizer checks on each new pair, so the call itself says whether it could ship.
#   bash scripts/gpu_session.sh OUT MINUTES [SIZE ...]    (default size: ch48; on the GPU machine, gpu-data/ carried)
# Leaves under OUT, per size (8 files at most come back): <size>/embedded-{arpg,tokenizer}.safetensors,
# <size>/log.jsonl and <size>/stdout.txt. The tests' output goes to this script's own output.
# A CPU rehearsal, in a copy of the tree (it replaces assets/): GPU_TRAIN_ARGS="--device cpu --crops 256 --probe 2
# --batch-div 16" bash scripts/gpu_session.sh OUT 1.5
set -u
out=$1 minutes=$2
shift 2
sizes=("${@:-ch48}")
threads=$((14 / ${#sizes[@]}))  # the crops are cut on the GPU now: the cores go to torch
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
python3 -m pytest -q -p no:cacheprovider tests/test_train.py -k cuda >/tmp/pytest.txt 2>&1 &
for size in "${sizes[@]}"; do
    mkdir -p "$out/$size"
    python3 scripts/gpu_train.py gpu-data "$out/$size" --variant "$size" --minutes "$minutes" \
        --threads "$threads" ${GPU_TRAIN_ARGS:-} >"$out/$size/stdout.txt" 2>&1 &
done
wait
tail -n 3 /tmp/pytest.txt
for size in "${sizes[@]}"; do
    echo "== $size"
    grep -v '^\s*$' "$out/$size/stdout.txt" | grep -v 'step/s\|crop/s' | head -n 12
    if [ -f "$out/$size/embedded-arpg.safetensors" ]; then  # the tree here is a copy: assets/ may change
        cp "$out/$size"/embedded-*.safetensors assets/
        python3 -m pytest -q -p no:cacheprovider tests/test_quality.py -k tokenizer 2>&1 | tail -n 6
    fi
done
ls -la "$out"/*
