import io

from arpg_core.progress import ProgressBar, format_seconds


def test_progress_line_counts_rate_and_eta():
    out = io.StringIO()
    bar = ProgressBar(10, "job", stream=out)
    bar.update(10, loss=0.5)
    line = out.getvalue().strip()
    assert line.startswith("job [########################] 10/10 steps") and "loss 0.5" in line
    out = io.StringIO()
    ProgressBar(4, "download", unit="MB", stream=out).update(4)
    assert "4/4 MB " in out.getvalue()


def test_format_seconds():
    assert format_seconds(65) == "1:05" and format_seconds(3725) == "1:02:05"
