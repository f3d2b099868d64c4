"""Connects the state to the engine: plans runs, starts and cancels jobs, turns results into variants,
and applies a chosen variant to the document as one undoable step. Widgets talk to this, never to jobs."""

from __future__ import annotations

import contextlib
import logging
import random
import time
import traceback
from dataclasses import replace

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from arpg_core.edits import lanczos_2x

from .history import EditHistory, HistoryEntry
from .jobs import EditJob, LoadJob
from .softmask import has_soft, soften
from .state import MODE_VERBS, AppState, EngineInfo, Snapshot, Variant

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
        from arpg_core.pipeline import EditRequest

        s, p = self.state, self.state.params
        image = None if s.mode == "generate" else s.rgb
        return EditRequest(
            mode=s.mode,
            image=image,
            mask=s.mask > 0 if s.mode == "inpaint" and s.mask is not None else None,
            extend=tuple(s.extend),
            label=p.label,
            steps=p.steps,
            cfg_scale=p.cfg_scale,
            cfg_schedule=p.cfg_schedule,
            schedule=p.schedule,
            temperature=p.temperature,
            top_k=p.top_k,
            top_p=p.top_p,
            seed=p.seed if seed is None else seed,
            variants=p.variants,
            feather=p.feather,
            seam_first=p.seam_first,
            expand_lock=EditRequest.expand_lock if p.keep_source else 0.0,  # the engine's default, or off
            preview=preview,
            preview_interval=PREVIEW_INTERVAL,
        )

    def blocked_reason(self) -> str:
        s = self.state
        if s.running:
            return "Running…"
        if self.engine is None:
            return "Loading the model…" if self.loading else "No model loaded: choose one in Edit > Models…"
        if s.mode != "generate" and not s.has_image:
            return "Open an image first"
        if s.mode == "inpaint" and not s.mask.any():
            return "Paint a mask first"
        if s.mode == "outpaint" and sum(s.extend) == 0:
            return "Drag a handle or pick a size to extend the canvas"
        try:
            self.engine.check(self.request(preview=False))
        except ValueError as e:
            text = str(e)
            return text[:1].upper() + text[1:]
        return ""

    def refresh_plan(self) -> None:
        reason = self.blocked_reason()
        windows = []
        if self.engine is not None and (not reason or self.state.running):
            try:
                windows = self._scene_windows(self.engine.windows(self.request(preview=False)))
            except (ValueError, AttributeError, TypeError):
                windows = []
        self.state.set_plan(windows, reason)

    def _scene_windows(self, windows) -> list[tuple[float, float, float, float, float]]:
        """Engine windows in document coordinates, each with its token size in document px."""
        s, patch = self.state, self.engine.patch
        out = []
        for w in windows:
            if s.mode == "outpaint":
                l, t = s.extend[0], s.extend[1]
                out.append((w.x0 - l, w.y0 - t, w.x1 - l, w.y1 - t, float(patch)))
            elif s.mode == "expand":
                out.append((w.x0, w.y0, w.x1, w.y1, patch / 2))
            else:
                out.append((w.x0, w.y0, w.x1, w.y1, patch / w.scale))
        return out

    # --- running -----------------------------------------------------------------------------------

    def run(self, new_seed: bool = False) -> bool:
        """Start the primary action; returns False (and says why on the status bar) when it cannot run."""
        s = self.state
        reason = self.blocked_reason()
        if reason:
            s.message.emit(reason)
            return False
        if new_seed or s.params.random_seed:
            s.set_params(seed=random.randrange(2**31))
        return self._start(self.request())

    def _start(self, request, show_index: int | None = None) -> bool:
        s = self.state
        self._show_index = show_index
        self._run_mask = s.mask.copy() if request.mode == "inpaint" and s.mask is not None else None
        job = EditJob(self.engine, request)
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
            self.state.set_preview(
                self._place(Variant(image, "preview", self.job.request.mode, extend=self.job.request.extend))
            )

    def _on_finished(self, result) -> None:
        if not self._is_current():
            return
        job = self.job
        if job.request.mode != "generate" and self._source is not self.state.rgb:
            self.state.message.emit("The image changed during the run; its results were dropped")
            return
        r = job.request
        images = result.images
        if r.mode == "inpaint" and has_soft(self._run_mask):  # a soft brush: its edge fades the result in
            images = [soften(self._source, img, self._run_mask, r.feather) for img in images]
        variants = []
        for i, (img, seed) in enumerate(zip(images, result.seeds)):
            # the run's request (no pixels kept) and which variant this is: replaying the run gives these pixels
            meta = {"request": replace(r, image=None, preview=False), "index": i, "mask": self._run_mask}
            variants.append(self._place(Variant(img, f"#{i + 1}  seed {seed}", r.mode, seed, r.extend, meta=meta)))
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
        if self.job is not None and self._source is not self.state.rgb and self.job.request.mode != "generate":
            self.cancel()

    def _place(self, v: Variant) -> Variant:
        if v.mode == "outpaint":
            v.x, v.y = -float(v.extend[0]), -float(v.extend[1])
        elif v.mode == "expand":
            v.scale = 0.5
        return v

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
        v = Variant(lanczos_2x(s.rgb), "Lanczos 2x", "expand", meta={"baseline": True})
        s.add_variant(self._place(v))
        s.message.emit("Lanczos 2x baseline added to the variants")

    def apply_current(self) -> bool:
        s = self.state
        v = s.current_variant()
        if v is None or s.running:
            return False
        if v.mode == "generate" and not s.has_image:
            s.load_document(v.image, saved=False)
            return True
        if s.rgb is None:
            return False
        H, W = s.rgb.shape[:2]
        ox, oy, ow, oh = s.origin
        alpha, mask = s.alpha, s.mask
        if v.mode == "inpaint":
            if v.image.shape[:2] != (H, W):
                s.message.emit("This result no longer fits the image")
                return False
            kept = np.zeros_like(mask) if s.params.clear_mask_after_apply else mask.copy()
            after = Snapshot(v.image, alpha, kept, s.origin)
        elif v.mode == "outpaint":
            l, t, r, b = v.extend
            if v.image.shape[:2] != (H + t + b, W + l + r):
                s.message.emit("This result no longer fits the image")
                return False
            pad = ((t, b), (l, r))
            alpha = None if alpha is None else np.pad(alpha, pad, constant_values=255)
            after = Snapshot(v.image, alpha, np.pad(mask, pad), (ox + l, oy + t, ow, oh))
        elif v.mode == "expand":
            if v.image.shape[:2] != (2 * H, 2 * W):
                s.message.emit("This result no longer fits the image")
                return False
            if alpha is not None:
                alpha = cv2.resize(alpha, (2 * W, 2 * H), interpolation=cv2.INTER_LINEAR)
            big = np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1)
            after = Snapshot(v.image, alpha, big, (2 * ox, 2 * oy, 2 * ow, 2 * oh))
        else:
            h, w = v.image.shape[:2]
            after = Snapshot(v.image, None, np.zeros((h, w), bool), (0.0, 0.0, 0.0, 0.0))
        size = s.size
        command = s.push_document(
            after, f"Apply {MODE_VERBS[v.mode].lower()}" + (" (Lanczos)" if v.meta.get("baseline") else "")
        )
        self._record(v, size, command)
        s.clear_variants()
        if v.mode == "outpaint":
            s.set_extend((0, 0, 0, 0))
            s.view_shift.emit(float(v.extend[0]), float(v.extend[1]))
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
        s.set_params(
            steps=r.steps,
            cfg_scale=r.cfg_scale,
            cfg_schedule=r.cfg_schedule,
            schedule=r.schedule,
            temperature=r.temperature,
            top_k=r.top_k,
            top_p=r.top_p,
            seed=r.seed,
            random_seed=False,
            variants=r.variants,
            label=r.label,
            feather=r.feather,
            seam_first=r.seam_first,
            keep_source=r.expand_lock > 0,
        )
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
        request = replace(
            r,
            image=None if r.mode == "generate" else s.rgb,
            preview=True,
            preview_interval=PREVIEW_INTERVAL,
        )
        try:
            self.engine.check(request)
        except ValueError as e:
            s.message.emit(str(e)[:1].upper() + str(e)[1:])
            return False
        return self._start(request, show_index=entry.index)

    def replace_seed(self, variant: Variant) -> None:
        if variant.seed is not None:
            self.state.set_params(seed=variant.seed, random_seed=False)
