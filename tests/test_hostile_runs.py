"""Clumsy runs (issue 13, items 2, 3, 4, 7, 8 and 9): numbers bounded before any work, outputs all or nothing,
one winner per output name, unwritable names refused up front, and a broken stderr that never loses the edit.

Most rows run the command line in-process and check the promise of every failure (tests/hostile.py). A model path
that does not exist (``NO_MODEL``) proves a check ran before any model was loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from hostile import NO_MODEL, PROGRESS, ROOT, cli, leftovers, refused, save_models, save_photo
from PIL import Image
from tiny import files_under, tiny_arpg

from arpg_core.cli.main import main
from arpg_core.files.atomic import OutputError, OutputSet


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def photo(tmp_path):
    return save_photo(tmp_path)


# --- 2 and 7. numbers: bounded, checked once in the core, before any work ------------------------------------


def _requests(photo, mask):
    inpaint = ["inpaint", photo, "--mask", mask]
    return [
        ([*inpaint, "--dilate", 50000], "--dilate must be a whole number between 0 and 64 tokens, got 50000"),
        ([*inpaint, "--dilate", 1000000], "--dilate must be a whole number between 0 and 64 tokens"),
        ([*inpaint, "--dilate", -1], "--dilate must be a whole number between 0 and 64"),
        ([*inpaint, "--feather", -2], "--feather must be a whole number between 0 and 8192 px, got -2"),
        ([*inpaint, "--feather", 5000], "--feather must be a whole number between 0 and 64 px for this 48x40 image"),
        (["generate", "--cfg", "1e39"], "--cfg must be a number between 0 and 100 (1 = off), got 1e+39"),
        (["generate", "--cfg", "nan"], "--cfg must be a number between 0 and 100"),
        (["generate", "--cfg", -1], "--cfg must be a number between 0 and 100"),
        (["generate", "--temperature", "1e-45"], "--temperature must be 0 (greedy) or between 0.01 and 100"),
        (["generate", "--temperature", "inf"], "--temperature must be 0 (greedy) or between 0.01 and 100"),
        (["generate", "--top-p", "1e-300"], "--top-p must be a number between 0.001 and 1 (1 = off), got 1e-300"),
        (["generate", "--top-p", 1.5], "--top-p must be a number between 0.001 and 1"),
        (["generate", "--top-k", -1], "--top-k must be a whole number between 0 and"),
        (["generate", "--quality", 101], "--quality must be a whole number between 1 and 100, got 101"),
        (["generate", "--quality", -5], "--quality must be a whole number between 1 and 100, got -5"),
        (["generate", "--steps", 0], "--steps must be a whole number between 1 and 1024, got 0"),
        (["generate", "--steps", 10**9], "--steps must be a whole number between 1 and 1024"),
        (["generate", "--variants", 17], "--variants must be a whole number between 1 and 16, got 17"),
        (["outpaint", photo, "--left", -4], "--left must be a whole number between 0 and 8192 px, got -4"),
        (["outpaint", photo, "--bottom", 10**6], "--bottom must be a whole number between 0 and 8192 px"),
        (["outpaint", photo, "--left", 8000, "--right", 8000, "--top", 8000], "over 64 megapixels"),
        (["expand", photo, "--lock", 17], "--lock must be a number between 0 and 16 px, got 17"),
    ]


def test_bad_numbers_are_refused_before_the_model_loads(tmp_path, photo, capsys):
    for args, message in _requests(*photo):
        refused(capsys, [*args, "-o", tmp_path / "o.webp", "--model", NO_MODEL], message)
    assert leftovers(tmp_path, {"photo.png", "mask.png"}) == []


def test_bounds_that_follow_from_the_model(tmp_path, photo, models, capsys):
    inpaint = ["inpaint", photo[0], "--mask", photo[1], "-o", tmp_path / "o.png", *models]
    grid = "(this model's grid is 8x8)"
    refused(capsys, [*inpaint, "--dilate", 9], f"--dilate must be a whole number between 0 and 8 tokens {grid}")
    refused(capsys, [*inpaint, "--top-k", 65], "--top-k must be a whole number between 0 and 64 (0 = off; this")
    refused(capsys, [*inpaint, "--class", "²"], "unknown class '²'")
    refused(capsys, [*inpaint, "--class", "1.5"], "unknown class '1.5'")
    refused(capsys, [*inpaint, "--class", "99999999999999999999"], "is out of range: this model has classes 0..4")
    assert leftovers(tmp_path, {"photo.png", "mask.png"}) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--heads", -4], "--heads must be one of 1, 2, 4, 8, 16 (dim 64), got -4"),
        (["--heads", 0], "--heads must be one of 1, 2, 4, 8, 16 (dim 64), got 0"),
        (["--heads", 3], "--heads must be one of 1, 2, 4, 8, 16 (dim 64), got 3"),
    ],
)
def test_convert_heads(tmp_path, capsys, args, message):
    torch.save({"model": tiny_arpg().state_dict()}, tmp_path / "a.pt")
    refused(capsys, ["convert", tmp_path / "a.pt", tmp_path / "a.safetensors", *args], message)
    assert not (tmp_path / "a.safetensors").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--steps", "1e3"], "argument --steps: invalid int value: '1e3' (see arpg-studio generate -h)"),
        (["generate", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["inpaint", "x.png"], "the following arguments are required: --mask, -o/--output"),
    ],
)
def test_usage_errors_are_one_line_too(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


# --- 3. outputs are all or nothing ---------------------------------------------------------------------------


def _fail_on(monkeypatch, target: str, call: int, error: OSError):
    """Make the ``call``-th call (1-based) of ``target`` (module.attr) raise ``error``."""
    module, attr = target.rsplit(".", 1)
    mod = sys.modules[module]
    real, count = getattr(mod, attr), [0]

    def wrapper(*a, **kw):
        count[0] += 1
        if count[0] == call:
            raise error
        return real(*a, **kw)

    monkeypatch.setattr(mod, attr, wrapper)


FULL = OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("target", "call", "force"),
    [
        ("arpg_core.cli.edit_cli.write_image", 3, False),  # the disk fills up while writing variant 3
        ("arpg_core.cli.edit_cli.write_image", 3, True),
        ("os.link", 2, False),  # committing the second file fails
        ("os.replace", 2, True),
    ],
)
def test_variants_are_written_all_or_none(tmp_path, photo, models, capsys, monkeypatch, target, call, force):
    old = {f"v-{i}.png": f"old {i}".encode() for i in (1, 2)} if force else {}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    _fail_on(monkeypatch, target, call, FULL)
    args = ["inpaint", *photo[:1], "--mask", photo[1], "-o", tmp_path / "v.png", "--variants", 4, "--steps", 1]
    line = refused(capsys, [*args, *models, *(["--force"] if force else [])], "No space left on device")
    assert "no output was written" in line
    assert leftovers(tmp_path, {"photo.png", "mask.png"}) == sorted(old)
    assert all((tmp_path / name).read_bytes() == data for name, data in old.items())


def test_lanczos_must_not_be_an_output_of_the_model(tmp_path, photo, capsys, monkeypatch):
    src = photo[0]
    monkeypatch.chdir(tmp_path)
    for out, lanczos in (("out.png", "out.png"), ("out.png", "./out.png"), ("v.png", "v-2.png")):
        extra = ["--variants", 2] if out == "v.png" else []
        refused(capsys, ["expand", src, "-o", out, "--lanczos", lanczos, *extra, "--model", NO_MODEL], "same file")
    assert leftovers(tmp_path, {"photo.png", "mask.png"}) == []


def test_json_record_on_a_full_stdout_keeps_no_file(tmp_path, models):
    """The record is an output too: the model's image, the Lanczos one and the record, or none of them."""
    Image.new("RGB", (16, 16), (200, 40, 40)).save(tmp_path / "small.png")
    with open("/dev/full", "w") as full:
        args = ["expand", tmp_path / "small.png", "-o", tmp_path / "e.png", "--lanczos", tmp_path / "l.png", "--json"]
        proc = cli(*args, "--steps", 1, *models, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    *progress, last = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and all(PROGRESS.match(line) for line in progress), proc.stderr
    assert last.startswith("arpg-studio expand: error: cannot write the JSON record to standard output")
    assert leftovers(tmp_path, {"small.png"}) == []


# --- 4. two runs never both claim one name -------------------------------------------------------------------


def test_claiming_a_name_is_atomic(tmp_path):
    for round_ in range(20):
        final = tmp_path / f"out{round_}.png"
        results: dict[int, str] = {}
        barrier = threading.Barrier(6)

        def run(i: int, final=final, results=results, barrier=barrier) -> None:
            outs = OutputSet([final])
            outs.check()
            (tmp,) = outs.stage()
            tmp.write_text(f"writer {i}")
            barrier.wait()
            try:
                outs.commit()
                outs.finish()
                results[i] = "won"
            except OutputError as e:
                results[i] = str(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [i for i, r in results.items() if r == "won"]
        assert len(winners) == 1, results
        assert final.read_text() == f"writer {winners[0]}"
        assert all("exists" in r for r in results.values() if r != "won")
    assert len(files_under(tmp_path)) == 20  # no temporaries left


def test_two_runs_to_one_name_one_wins(tmp_path, models):
    out = tmp_path / "g.png"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "arpg_core.cli.main",
                "generate",
                "-o",
                str(out),
                "--steps",
                "1",
                "--seed",
                str(i),
                *models,
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 1], results
    assert "exists" in next(err for code, err in results if code == 1)
    assert files_under(tmp_path) == ["g.png"]


# --- 8. output names and folders are checked before the work, naming the user's path -------------------------


def test_a_long_name_is_fine(tmp_path, models):
    out = tmp_path / ("n" * 246 + ".png")  # 250 characters: the temporary file's name is shortened, not this
    proc = cli("generate", "-o", out, "--steps", 1, *models, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert files_under(tmp_path) == [out.name]


def test_unwritable_outputs_are_refused_before_the_work(tmp_path, capsys):
    (tmp_path / "file").write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    cases = [
        (tmp_path / ("n" * 300 + ".png"), "the file name is too long (304 bytes; at most 255 in this folder)"),
        (Path("/proc/out.png"), "/proc/out.png: cannot write in /proc"),
        (tmp_path / "file" / "out.png", f"{tmp_path / 'file'} is not a folder"),
        (tmp_path / "missing" / "out.png", f"{tmp_path / 'missing'}: no such folder"),
        (tmp_path / "folder.png", f"{tmp_path / 'folder.png'} exists"),
    ]
    for out, message in cases:
        refused(capsys, ["generate", "-o", out, "--model", NO_MODEL], message)
    refused(capsys, ["generate", "-o", tmp_path / "folder.png", "--force", "--model", NO_MODEL], "not a regular file")
    assert leftovers(tmp_path, {"file", "folder.png"}) == []


def test_an_immutable_file_is_not_replaced(tmp_path, capsys):
    target = tmp_path / "keep.png"
    target.write_bytes(b"keep")
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        refused(capsys, ["generate", "-o", target, "--force", "--model", NO_MODEL], "is read-only or immutable")
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)
    assert target.read_bytes() == b"keep"


# --- 9. a broken stderr or stdout never loses the edit ---------------------------------------------------------


def test_full_stderr_and_stdout_do_not_fail_the_run(tmp_path, models):
    with open("/dev/full", "w") as full:
        proc = cli("generate", "-o", tmp_path / "g.png", "--steps", 2, *models, stdout=full, stderr=full, timeout=120)
    assert proc.returncode == 0 and (tmp_path / "g.png").is_file()


def test_stderr_closed_early_does_not_fail_the_run(tmp_path, models):
    """``2>&1 | head -c 20``: the reader goes away after 20 bytes, the run goes on and writes its file."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["generate", "-o", str(tmp_path / "g.png"), "--steps", 8, "--tokenizer", "x", *models]
    proc = subprocess.Popen(
        [sys.executable, "-m", "arpg_core.cli.main", *map(str, args)], env=env, stderr=subprocess.PIPE
    )
    assert len(proc.stderr.read(20)) == 20
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0 and (tmp_path / "g.png").is_file()


def test_a_full_stdout_fails_a_command_whose_output_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path))
    with open("/dev/full", "w") as full:
        proc = cli("weights", "list", stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("arpg-studio weights: error: ") and "No space left on device" in lines[0]
