"""Connects the state to the engine: plans runs, starts and cancels jobs, turns results into variants,
and applies a chosen variant to the document as one undoable step. Widgets talk to this, never to jobs."""

from __future__ import annotations

import contextlib
import logging
import random
import time
import traceback
from dataclasses import fields, replace

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from arpg_core.edit.placement import Document, NoLongerFits, apply
from arpg_core.edit.plans import lanczos_result
from arpg_core.edit.requests import build_request, default

from .history import EditHistory, HistoryEntry
from .jobs import EditJob, LoadJob
from .softmask import has_soft, soften
from .state import MODE_VERBS, AppState, EngineInfo, Params, Snapshot, Variant

log = logging.getLogger("arpg_studio.controller")
PREVIEW_INTERVAL = 0.2  # s between live previews


def plural(n: int, word: str) -> str:
    """'1 variant', '3 variants'"""
    return f"{n} {word}{'' if n == 1 else 's'}"


class RunController(QObject):
    error = Signal(str, str, str)  # title, message, details
    finished = Signal(float)  # a run ended with variants and the state is idle again; seconds it took
    switched = Signal(dict)  # a load succeeded and its engine is now in use: the loader's keywords
    load_failed = Signal(str)  # a load failed; the engine in use (if any) stays: the message

    def __init__(self, state: AppState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.history = EditHistory(self)
        self.engine = None
        self.loading = False
        self.loading_what = ""  # the model a load in progress is for
        self.job: EditJob | None = None
        self._load_job: LoadJob | None = None
        self._source = None  # the document pixels the running job started from
        self._run_mask = None  # the mask as it was when the running job started
        self._show_index: int | None = None  # the variant to show when the running job ends (a replay)
        self._took: float | None = None  # set when the running job produced variants
        self._retired: list = []  # jobs whose threads are still winding down
        self._plan_timer = QTimer(self, singleShot=True, interval=60)
        self._plan_timer.timeout.connect(self.refresh_plan)
        for sig in (
            state.document_changed,
            state.mode_changed,
            state.extend_changed,
            state.params_changed,
            state.engine_changed,
        ):
            sig.connect(self.schedule_plan)
        state.mask_changed.connect(self.schedule_plan)
        state.running_changed.connect(self.schedule_plan)
        state.document_changed.connect(self._document_replaced)
        state.document_loaded.connect(self.history.clear)
        state.undo_stack.indexChanged.connect(self._undo_moved)

    # --- engine ------------------------------------------------------------------------------------

    def load_engine(self, loader, **kwargs) -> bool:
        """Load an engine in a worker thread; the old one stays in use until the new one has loaded.

        Only a load that succeeded swaps the engine (and emits ``switched``); a failed one leaves the engine
        in use as it was, reports ``error`` and ``load_failed``. False when a load is already in progress.
        """
        if self._load_job is not None:
            self.state.message.emit("A model is loading already; wait for it to finish")
            return False
        self.loading = True
        self.loading_what = str(kwargs.get("model") or "the model")
        self.state.message.emit(f"Loading {self.loading_what}…")
        job = LoadJob(loader, **kwargs)
        job.finished.connect(self._loaded)
        job.failed.connect(self._load_failed)
        job.done.connect(self._load_done)
        self._load_job = job
        self.schedule_plan()
        self.state.engine_changed.emit()
        job.start()
        return True

    def _loaded(self, engine) -> None:
        job = self.sender() or self._load_job
        previous, info = self.engine, self.state.engine_info
        try:
            self.set_engine(engine)
        except Exception as e:  # not a usable engine: roll back to the one before
            self.engine = previous
            self.state.set_engine_info(info)
            self._load_failed(str(e) or type(e).__name__, traceback.format_exc())
            return
        self.switched.emit(dict(getattr(job, "kwargs", {}) or {}))

    def _load_failed(self, message: str, details: str) -> None:
        if self.engine is not None:
            message = f"{message}\n\nStill using {self.engine.name}."
        else:
            message = f"{message}\n\nChoose another model in Edit > Models…"
        self.error.emit("The model could not be loaded", message, details)
        self.load_failed.emit(message)

    def _load_done(self) -> None:
        if self._load_job is not None:
            self._retired.append(self._load_job)
        self._load_job = None
        self.loading = False
        self.loading_what = ""
        self.schedule_plan()
        self.state.engine_changed.emit()

    def set_engine(self, engine) -> None:
        info = EngineInfo(
            engine.name,
            str(engine.device),
            tuple(engine.class_names),
            engine.native,
            engine.patch,
            str(getattr(engine, "precision", "")),
        )
        self.engine = engine
        self.state.set_engine_info(info)
        self.state.message.emit(f"Model {engine.name} on {engine.device}")

    # --- planning ----------------------------------------------------------------------------------

    def schedule_plan(self, *_args) -> None:
        self._plan_timer.start()

    def request(self, seed: int | None = None, preview: bool = True):
        """The request of the current mode from the document and the panel's settings (by name,
        arpg_core.edit.requests)."""
        s, p = self.state, self.state.params
        values = p.request_values()
        if seed is not None:
            values["seed"] = seed
        return build_request(
            s.mode,
            image=s.rgb,
            mask=None if s.mask is None else s.mask > 0,
            extend=tuple(s.extend),
            expand_lock=default("expand_lock") if p.keep_source else 0.0,  # the core's default, or off
            preview=preview,
            preview_interval=PREVIEW_INTERVAL,
            **values,
        )

    def _plan(self, seed: int | None = None, preview: bool = True):
        """Why a run cannot start now ("" when it can), and the checked plan of the request it would run (or None).
        The request is built once and checked once (by ``engine.plan``)."""
        s = self.state
        if self.engine is None:
            return ("Loading the model…" if self.loading else "No model loaded: choose one in Edit > Models…"), None
        if s.mode != "generate" and not s.has_image:
            return "Open an image first", None
        if s.mode == "inpaint" and not s.mask.any():
            return "Paint a mask first", None
        if s.mode == "outpaint" and sum(s.extend) == 0:
            return "Drag a handle or pick a size to extend the canvas", None
        try:
            plan = self.engine.plan(self.request(seed, preview))
        except ValueError as e:
            return _sentence(e), None
        return ("Running…" if s.running else ""), plan

    def blocked_reason(self) -> str:
        if self.state.running:
            return "Running…"
        return self._plan(preview=False)[0]

    def refresh_plan(self) -> None:
        reason, plan = self._plan(preview=False)
        self.state.set_plan(plan.document_windows() if plan is not None else [], reason)

    # --- running -----------------------------------------------------------------------------------

    def run(self, new_seed: bool = False) -> bool:
        """Start the primary action; returns False (and says why on the status bar) when it cannot run."""
        s = self.state
        seed = random.randrange(2**31) if new_seed or s.params.random_seed else None
        reason, plan = self._plan(seed) if not s.running else ("Running…", None)
        if reason:
            s.message.emit(reason)
            return False
        if seed is not None:
            s.set_params(seed=seed)
        return self._start(plan)

    def _start(self, plan, show_index: int | None = None) -> bool:
        s, request = self.state, plan.request
        self._show_index = show_index
        self._run_mask = s.mask.copy() if plan.placement.masked and s.mask is not None else None
        job = EditJob(self.engine, plan)
        job.progress.connect(self._on_progress)
        job.preview.connect(self._on_preview)
        job.finished.connect(self._on_finished)
        job.cancelled.connect(self._on_cancelled)
        job.failed.connect(self._on_failed)
        job.done.connect(self._on_done)
        self.job, self._source = job, s.rgb
        s.clear_variants()
        s.set_running(True)
        s.set_progress(0, 0, 0.0)
        s.message.emit(f"{MODE_VERBS[request.mode]}: seed {request.seed}")
        job.start()
        return True

    def again(self) -> bool:
        return self.run(new_seed=True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _is_current(self) -> bool:
        return self.sender() is self.job and self.job is not None and not self.job.cancelled_flag

    def _on_progress(self, step: int, total: int, eta: float, _elapsed: float) -> None:
        if self._is_current():
            self.state.set_progress(step, total, eta)

    def _on_preview(self, image: np.ndarray) -> None:
        if self._is_current():
            self.state.set_preview(_placed(Variant(image, "preview", self.job.request.mode), self.job.plan.placement))

    def _on_finished(self, result) -> None:
        if not self._is_current():
            return
        job = self.job
        if result.placement.source is not None and self._source is not self.state.rgb:
            self.state.message.emit("The image changed during the run; its results were dropped")
            return
        r = job.request
        if result.placement.masked and has_soft(self._run_mask):  # a soft brush: its edge fades the result in
            result = replace(
                result, images=[soften(self._source, im, self._run_mask, r.feather) for im in result.images]
            )
        variants = []
        for i, seed in enumerate(result.seeds):
            # the run's request (no pixels kept) and which variant this is: replaying the run gives these pixels
            meta = {"request": _without_pixels(r), "index": i, "mask": self._run_mask}
            v = Variant(result.images[i], f"#{i + 1}  seed {seed}", r.mode, seed, meta=meta, result=result, index=i)
            variants.append(_placed(v, result.placement))
        self.state.set_variants(variants)
        if self._show_index is not None:  # a replay: show the variant that was applied
            self.state.set_current(self._show_index)
        self._took = time.perf_counter() - job.started_at
        keys = "←/→ to flip, Enter applies" if len(variants) > 1 else "Enter applies"
        self.state.message.emit(f"{plural(len(variants), 'variant')} in {self._took:.1f} s: {keys}")

    def _on_cancelled(self) -> None:
        self.state.message.emit("Cancelled; the document is unchanged")

    def _on_failed(self, message: str, details: str) -> None:
        if self.sender() is self.job:
            self.error.emit("The edit failed", message, details)

    def _on_done(self) -> None:
        job = self.sender()
        if job is self.job:
            self.job, self._source = None, None
            self.state.set_running(False)
            took, self._took = self._took, None
            if took is not None:
                self.finished.emit(took)  # after running is off, so the result can be applied at once
        if job is not None:
            self._retired.append(job)
        self._retired = [j for j in self._retired if j.thread.isRunning()]

    def _document_replaced(self) -> None:
        job = self.job
        if job is not None and self._source is not self.state.rgb and job.plan.placement.source is not None:
            self.cancel()

    def shutdown(self, ms: int = 5000) -> None:
        """Cancel what runs and wait for the worker threads to end (on close)."""
        for job in [self.job, self._load_job, *self._retired]:
            if job is not None:
                job.cancel()
                job.wait(ms)

    # --- results -----------------------------------------------------------------------------------

    def lanczos(self) -> None:
        s = self.state
        if not s.has_image:
            return
        result = lanczos_result(s.rgb)
        v = Variant(result.images[0], "Lanczos 2x", "expand", meta={"baseline": True}, result=result)
        s.add_variant(_placed(v, result.placement))
        s.message.emit("Lanczos 2x baseline added to the variants")

    def apply_current(self) -> bool:
        """Apply the variant shown as one undoable step: ``arpg_core.edit.placement.apply`` says where it lands."""
        s = self.state
        v = s.current_variant()
        if v is None or s.running or v.result is None:
            return False
        p = v.result.placement
        if p.source is None and not s.has_image:  # a new image into the empty window
            s.load_document(v.image, saved=False)
            return True
        if s.rgb is None:
            return False
        try:
            doc = apply(Document(s.rgb, s.alpha, s.mask), v.result, v.index)
        except NoLongerFits as e:
            s.message.emit(str(e))
            return False
        mask = np.zeros_like(doc.mask) if p.masked and s.params.clear_mask_after_apply else doc.mask
        after = Snapshot(doc.rgb, doc.alpha, mask, p.rect(*s.origin))
        size = s.size
        command = s.push_document(
            after, f"Apply {MODE_VERBS[v.mode].lower()}" + (" (Lanczos)" if v.meta.get("baseline") else "")
        )
        self._record(v, size, command)
        s.clear_variants()
        if p.extends:  # the canvas grew around the image: the extension is used up, the view keeps its place
            s.set_extend((0, 0, 0, 0))
            s.view_shift.emit(float(p.offset[0]), float(p.offset[1]))
        s.message.emit("Applied. Ctrl+Z undoes it")
        return True

    # --- history ---------------------------------------------------------------------------------------

    def _record(self, v: Variant, size: tuple[int, int], command) -> None:
        request = v.meta.get("request")
        if request is None and not v.meta.get("baseline"):
            return
        info = self.state.engine_info
        label = getattr(request, "label", None)
        names = info.class_names if info else ()
        class_name = "none" if label is None else (names[label] if label < len(names) else f"class {label}")
        self.history.add(
            HistoryEntry(
                v.mode,
                request,
                v.meta.get("mask"),
                size,
                class_name,
                info.name if info else "",
                command,
                index=v.meta.get("index", 0),
                seed=v.seed,
            )
        )

    def _undo_moved(self, _index: int) -> None:
        with contextlib.suppress(RuntimeError):  # the stack is being deleted with the window
            self.history.sync_undo(self.state.undo_stack)

    def reselect(self, entry: HistoryEntry) -> None:
        """Put an applied edit's settings back: mode, parameters with the run's seed fixed and its number of
        variants (so Fill gives the same variants again), its mask or extension."""
        s, r = self.state, entry.request
        s.set_mode(entry.mode)
        if r is None:
            return
        s.set_params(**Params.of_request(r), random_seed=False)
        if entry.mode == "inpaint" and entry.mask is not None:
            if s.mask is not None and entry.mask.shape == s.mask.shape:
                s.set_mask(entry.mask, "Mask from the history")
            else:
                s.message.emit("The image has changed size since this edit; its mask no longer fits")
        elif entry.mode == "outpaint":
            s.set_extend(r.extend)
        s.message.emit(f"Settings of {entry.summary()}")

    def replay(self, entry: HistoryEntry) -> bool:
        """Run an applied edit again on the document as it is now: its run's own request, seed included; the
        variant that was applied is shown."""
        s, r = self.state, entry.request
        self.reselect(entry)
        if r is None:
            self.lanczos()
            return True
        if self.engine is None or s.running:
            s.message.emit(self.blocked_reason() or "Running…")
            return False
        if r.mode != "generate" and not s.has_image:
            s.message.emit("Open an image first")
            return False
        if r.mode == "inpaint" and (r.mask is None or r.mask.shape != s.rgb.shape[:2]):
            s.message.emit("The image has changed size since this edit; it cannot run on it again")
            return False
        changes = {"preview": True, "preview_interval": PREVIEW_INTERVAL}
        if "image" in {f.name for f in fields(r)}:
            changes["image"] = s.rgb
        try:
            plan = self.engine.plan(replace(r, **changes))
        except ValueError as e:
            s.message.emit(_sentence(e))
            return False
        return self._start(plan, show_index=entry.index)

    def replace_seed(self, variant: Variant) -> None:
        if variant.seed is not None:
            self.state.set_params(seed=variant.seed, random_seed=False)


def _sentence(e: Exception) -> str:
    text = str(e)
    return text[:1].upper() + text[1:]


def _without_pixels(r):
    """A run's request as the history keeps it: no image (the mask stays, for Fill)."""
    return (
        replace(r, image=None, preview=False) if "image" in {f.name for f in fields(r)} else replace(r, preview=False)
    )


def _placed(v: Variant, placement) -> Variant:
    v.x, v.y, v.scale = placement.view()
    return v
