#!/usr/bin/env bash
# One device call: the CUDA training test, then scripts/gpu_train.py once per tokenizer size, side by side.
#   bash scripts/gpu_session.sh OUT MINUTES      (on the GPU machine; gpu-data/ carried, see scripts/gpu_train.py)
# Leaves under OUT, per size (8 files at most come back): <size>/embedded-{arpg,tokenizer}.safetensors,
# <size>/log.jsonl and <size>/stdout.txt. The test's output goes to this script's own output.
set -u
out=$1 minutes=$2
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
python3 -m pytest -q -p no:cacheprovider tests/test_train.py -k cuda >/tmp/pytest.txt 2>&1 &
for size in v3 ch48; do
    mkdir -p "$out/$size"
    python3 scripts/gpu_train.py gpu-data "$out/$size" --variant "$size" --minutes "$minutes" --workers 5 --threads 3 \
        >"$out/$size/stdout.txt" 2>&1 &
done
wait
tail -n 5 /tmp/pytest.txt
for size in v3 ch48; do echo "== $size"; grep -v '^\s*$' "$out/$size/stdout.txt" | tail -n 30; done
ls -la "$out"/*
