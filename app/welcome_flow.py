"""Wiring of the first-start welcome: fill it from worker jobs (ARPG-L's needs, a timing of the embedded model)
and turn its buttons into the Models dialog's download or import. Shown once; Help brings it back."""

from __future__ import annotations

import threading

from . import estimates
from .jobs import CallJob
from .welcome import WelcomeDialog


def show_welcome(window) -> WelcomeDialog:
    window.settings.set_welcome_seen()
    d = window.welcome
    if d is None:
        info = window.state.engine_info
        names = info.class_names if info is not None and info.name == "embedded" else ()
        d = window.welcome = WelcomeDialog(names, window)
        window.state.engine_changed.connect(lambda: _classes(window))
        d.download_requested.connect(lambda: _download(window))
        d.import_requested.connect(lambda: window.open_models().import_dialog())
        _start(window, CallJob(estimates.offer, estimates.OFFERED), d.set_offer, lambda msg: d.offer_text.setText(msg))
        cancel = threading.Event()
        steps, device = window.state.params.sampling.num_steps, window.settings.device()
        job = CallJob(window.measure, steps, device, estimates.OFFERED, cancel=cancel)
        job.cancel_event = cancel
        _start(window, job, d.set_timing, d.set_timing_failed)
    d.show()
    d.raise_()
    d.activateWindow()
    return d


def _classes(window) -> None:
    info = window.state.engine_info
    if window.welcome is not None and info is not None and info.name == "embedded":
        window.welcome.set_classes(info.class_names)


def _start(window, job: CallJob, done, failed) -> None:
    job.finished.connect(done)
    job.failed.connect(lambda msg, _details: failed(msg))
    window._welcome_jobs.append(job)
    job.start()


def _download(window) -> None:
    offer = window.welcome.offer if window.welcome is not None else None
    window.open_models().fetch(offer.name if offer else estimates.OFFERED)


_still_running: list = []  # jobs that outlived their window: kept, since deleting a running QThread crashes


def stop(window) -> None:
    """Stop the timing and wait for the jobs (on close)."""
    for job in window._welcome_jobs:
        event = getattr(job, "cancel_event", None)
        if event is not None:
            event.set()
        if not job.wait(60_000):
            _still_running.append(job)  # (a few bytes once it ends; only when closed mid-way on a busy machine)
    window._welcome_jobs.clear()
