"""Side panel (mode, its options, class, parameters, run box) and the variants strip. Bound to the state."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from arpg_core.choices import CFG_SCHEDULES, MODES, PREFILLS, SCHEDULES
from arpg_core.edit.requests import default
from arpg_core.validate import MAX_VARIANTS

from .panel_values import ASPECTS, FILL_CHECKS, SCALE_PRESETS, extend_for_aspect, extend_for_scale, time_left
from .state import MODE_TITLES, MODE_VERBS, AppState

NONE_CLASS = "none"


def _spin(lo, hi, value, step=1, decimals=None, tip="") -> QSpinBox | QDoubleSpinBox:
    box = QSpinBox() if decimals is None else QDoubleSpinBox()
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


class SidePanel(QWidget):
    run_requested = Signal()
    again_requested = Signal()
    cancel_requested = Signal()
    lanczos_requested = Signal()

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setMinimumWidth(290)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(10)

        modes = QHBoxLayout()
        modes.setSpacing(0)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        tips = {
            "inpaint": "Inpaint: regenerate the painted area",
            "outpaint": "Outpaint: extend the canvas and fill the new area",
            "expand": "Expand 2x: twice the resolution, new detail from the model",
            "generate": "Generate: a new image of the chosen class",
        }
        for mode in MODES:
            b = QToolButton()
            b.setText(MODE_TITLES[mode])
            b.setCheckable(True)
            b.setToolTip(tips[mode])
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setObjectName("modeButton")
            self.mode_group.addButton(b)
            self.mode_buttons[mode] = b
            b.clicked.connect(lambda _=False, m=mode: state.set_mode(m))
            modes.addWidget(b)
        layout.addLayout(modes)

        # one page per mode; only the current one is shown, so the panel takes the height of that page
        self.pages = [self._inpaint_page(), self._outpaint_page(), self._expand_page(), self._generate_page()]
        for page in self.pages:
            layout.addWidget(page)
        layout.addWidget(self._params_box())
        layout.addWidget(self._advanced_box())
        layout.addStretch(1)
        layout.addWidget(self._run_box())

        state.mode_changed.connect(self._mode_changed)
        state.params_changed.connect(self._sync_params)
        state.engine_changed.connect(self._engine_changed)
        state.extend_changed.connect(self._sync_extend)
        state.document_changed.connect(self._sync_sizes)
        state.plan_changed.connect(self._sync_run)
        state.running_changed.connect(self._sync_run)
        state.progress_changed.connect(self._progress)
        self._mode_changed(state.mode)
        self._sync_params()
        self._engine_changed()
        self._sync_extend()
        self._sync_run()

    # --- pages -------------------------------------------------------------------------------------

    def _hint(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setObjectName("hint")
        return label

    def _inpaint_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self._hint("Paint over what to replace (B brush, E eraser, X toggles, R rectangle, L lasso)."))
        self.feather = _spin(0, 64, self.state.params.feather, tip="Blend the result this many pixels past the mask")
        self.feather.valueChanged.connect(lambda v: self.state.set_params(feather=int(v)))
        form.addRow("Edge feather (px)", self.feather)
        self.colour_match, self.detail = [], []
        self._fill_checks(form.addRow)
        self.clear_after = QCheckBox("Clear the mask after Apply")
        self.clear_after.setToolTip("Start the next edit from an empty mask, as IOPaint does (Ctrl+Z brings it back)")
        self.clear_after.toggled.connect(lambda on: self.state.set_params(clear_mask_after_apply=bool(on)))
        form.addRow(self.clear_after)
        return page

    def _outpaint_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self._hint("Drag the handles on the canvas, or type pixels per side. The original stays put."))
        grid = QGridLayout()
        self.side_spins = []
        for name, row, col in (("Left", 1, 0), ("Top", 0, 1), ("Right", 1, 2), ("Bottom", 2, 1)):
            box = _spin(0, 8192, 0, step=16, tip=f"Pixels added on the {name.lower()}")
            box.setPrefix(f"{name[0]} ")
            box.valueChanged.connect(self._extend_edited)
            grid.addWidget(box, row, col)
            self.side_spins.append(box)
        self.new_size = QLabel()
        self.new_size.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.new_size, 1, 1)
        v.addLayout(grid)
        presets = QHBoxLayout()
        for f in SCALE_PRESETS:
            b = QPushButton(f"{f:g}x")
            b.setToolTip(f"Extend every side so the canvas is {f:g} times as large")
            b.clicked.connect(lambda _=False, f=f: self._preset(extend_for_scale(self.state.size, f)))
            presets.addWidget(b)
        self.aspect = QComboBox()
        self.aspect.addItem("Aspect…")
        for name, _, _ in ASPECTS:
            self.aspect.addItem(name)
        self.aspect.setToolTip("Extend the short side to reach an aspect ratio")
        self.aspect.activated.connect(self._aspect_chosen)
        presets.addWidget(self.aspect)
        reset = QPushButton("Reset")
        reset.clicked.connect(lambda: self.state.set_extend((0, 0, 0, 0)))
        presets.addWidget(reset)
        v.addLayout(presets)
        self._fill_checks(v.addWidget)
        return page

    def _fill_checks(self, add) -> None:
        """Fill's and Extend's "Match colours" and "Restore fine grain" (the same two settings on both pages): each
        the core's default, or off."""
        for name, (text, tip) in FILL_CHECKS.items():
            box = QCheckBox(text)
            box.setToolTip(tip)
            box.toggled.connect(lambda on, n=name: self.state.set_params(**{n: default(n, "inpaint") if on else 0.0}))
            getattr(self, name).append(box)
            add(box)

    def _expand_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        self.expand_sizes = QLabel()
        self.expand_sizes.setObjectName("sizes")
        self.expand_sizes.setWordWrap(True)
        v.addWidget(self.expand_sizes)
        self.keep_source = QCheckBox("Keep the source's colours and shapes")
        self.keep_source.setToolTip(
            "On: the result's coarse content is the Lanczos upscale and the model adds the fine detail.\n"
            "Off: the model's own 2x image, which may drift from the source."
        )
        self.keep_source.toggled.connect(lambda on: self.state.set_params(keep_source=bool(on)))
        v.addWidget(self.keep_source)
        lanczos = QPushButton("Lanczos 2x (baseline)")
        lanczos.setToolTip("Adds a classical Lanczos resize to the variants, to compare against")
        lanczos.clicked.connect(self.lanczos_requested)
        v.addWidget(lanczos)
        return page

    def _generate_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self._hint("A new image at the model's native size, of the class chosen below."))
        return page

    def _params_box(self) -> QGroupBox:
        box = QGroupBox("Parameters")
        form = QFormLayout(box)
        p = self.state.params
        self.class_edit = QLineEdit()
        self.class_edit.setPlaceholderText("none (type to search)")
        self.class_edit.setToolTip("Class to condition on; type to search; 'none' for no class")
        self.class_model = QStringListModel([NONE_CLASS])
        completer = QCompleter(self.class_model, self.class_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        self.class_edit.setCompleter(completer)
        completer.activated.connect(self._class_edited)
        self.class_edit.editingFinished.connect(self._class_edited)
        form.addRow("Class", self.class_edit)
        self.steps = _spin(1, 256, p.sampling.num_steps, tip="Decoding steps: more is slower and usually cleaner")
        self.steps.valueChanged.connect(lambda v: self.state.set_params(num_steps=int(v)))
        form.addRow("Steps", self.steps)
        self.cfg = _spin(
            0.0, 20.0, p.sampling.cfg_scale, 0.5, 2, "Classifier-free guidance: how strongly to follow the class"
        )
        self.cfg.valueChanged.connect(lambda v: self.state.set_params(cfg_scale=float(v)))
        form.addRow("CFG", self.cfg)
        self.temperature = _spin(
            0.05, 3.0, p.sampling.temperature, 0.05, 2, "Sampling temperature: higher is more varied"
        )
        self.temperature.valueChanged.connect(lambda v: self.state.set_params(temperature=float(v)))
        form.addRow("Temperature", self.temperature)
        self.variants = _spin(1, MAX_VARIANTS, p.variants, tip="Results per run, shown in the strip under the canvas")
        self.variants.valueChanged.connect(lambda v: self.state.set_params(variants=int(v)))
        form.addRow("Variants", self.variants)
        seed_row = QHBoxLayout()
        self.seed = _spin(0, 2**31 - 1, min(p.seed, 2**31 - 1), tip="Seed of the first variant (the others follow)")
        self.seed.valueChanged.connect(lambda v: self.state.set_params(seed=int(v)))
        self.random_seed = QCheckBox("Random")
        self.random_seed.setToolTip("A new seed for every run (the seed used stays visible)")
        self.random_seed.toggled.connect(lambda on: self.state.set_params(random_seed=bool(on)))
        copy = QToolButton()
        copy.setText("Copy")
        copy.setToolTip("Copy the seed to the clipboard")
        copy.clicked.connect(self._copy_seed)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        seed_row.addWidget(copy)
        form.addRow("Seed", seed_row)
        return box

    def _advanced_box(self) -> QWidget:
        outer = QWidget()
        v = QVBoxLayout(outer)
        v.setContentsMargins(0, 0, 0, 0)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        v.addWidget(self.advanced_toggle)
        self.advanced = QFrame()
        form = QFormLayout(self.advanced)
        form.setContentsMargins(12, 0, 0, 0)
        p = self.state.params
        self.top_k = _spin(0, 100000, p.sampling.top_k, tip="Sample from the k most likely tokens only (0 = all)")
        self.top_k.valueChanged.connect(lambda v: self.state.set_params(top_k=int(v)))
        form.addRow("Top-k", self.top_k)
        self.top_p = _spin(
            0.01, 1.0, p.sampling.top_p, 0.05, 2, "Nucleus sampling: keep the smallest set with this mass"
        )
        self.top_p.valueChanged.connect(lambda v: self.state.set_params(top_p=float(v)))
        form.addRow("Top-p", self.top_p)
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULES)
        self.schedule.setToolTip("How many tokens each step decodes")
        self.schedule.currentTextChanged.connect(lambda t: self.state.set_params(schedule=t))
        form.addRow("Step schedule", self.schedule)
        self.cfg_schedule = QComboBox()
        self.cfg_schedule.addItems(CFG_SCHEDULES)
        self.cfg_schedule.currentTextChanged.connect(lambda t: self.state.set_params(cfg_schedule=t))
        form.addRow("CFG schedule", self.cfg_schedule)
        self.prefill = QComboBox()
        self.prefill.addItems(PREFILLS)
        self.prefill.setToolTip(
            "How the pixels you keep enter the model: causal, as it saw context in training, or all at once"
        )
        self.prefill.currentTextChanged.connect(lambda t: self.state.set_params(prefill=t))
        form.addRow("Context", self.prefill)
        self.candidates = _spin(
            1,
            MAX_VARIANTS,
            p.candidates,
            tip="Fill and Extend: sample this many and keep the variants whose colours "
            "best fit the surroundings, best first (more is slower)",
        )
        self.candidates.valueChanged.connect(lambda v: self.state.set_params(candidates=int(v)))
        form.addRow("Candidates", self.candidates)
        self.seam_first = QCheckBox("Decode next to known pixels first")
        self.seam_first.toggled.connect(lambda on: self.state.set_params(seam_first=bool(on)))
        form.addRow(self.seam_first)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        v.addWidget(self.advanced)
        return outer

    def _run_box(self) -> QWidget:
        box = QFrame()
        box.setObjectName("runBox")
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.primary = QPushButton("Fill")
        self.primary.setObjectName("primary")
        self.primary.setMinimumHeight(38)
        self.primary.clicked.connect(self.run_requested)
        self.again = QPushButton("Again")
        self.again.setToolTip("Run again with a new seed (Ctrl+Shift+Enter)")
        self.again.setMinimumHeight(38)
        self.again.clicked.connect(self.again_requested)
        row.addWidget(self.primary, 3)
        row.addWidget(self.again, 1)
        v.addLayout(row)
        self.reason = QLabel()
        self.reason.setObjectName("reason")
        self.reason.setWordWrap(True)
        v.addWidget(self.reason)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the run; the document stays as it was (Esc)")
        self.cancel.clicked.connect(self.cancel_requested)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel)
        v.addLayout(prow)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("hint")
        v.addWidget(self.progress_label)
        return box

    # --- state -> widgets --------------------------------------------------------------------------

    def _mode_changed(self, mode: str) -> None:
        self.mode_buttons[mode].setChecked(True)
        for i, page in enumerate(self.pages):
            page.setVisible(i == MODES.index(mode))
        self._sync_sizes()
        self._sync_run()

    def _sync_params(self) -> None:
        p = self.state.params
        pairs = (
            (self.steps, p.sampling.num_steps),
            (self.cfg, p.sampling.cfg_scale),
            (self.temperature, p.sampling.temperature),
            (self.variants, p.variants),
            (self.candidates, p.candidates),
            (self.seed, min(p.seed, 2**31 - 1)),
            (self.top_k, p.sampling.top_k),
            (self.top_p, p.sampling.top_p),
            (self.feather, p.feather),
        )
        for widget, value in pairs:
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        checks = (
            (self.random_seed, p.random_seed),
            (self.seam_first, p.seam_first),
            (self.keep_source, p.keep_source),
            (self.clear_after, p.clear_mask_after_apply),
            *((box, getattr(p, name) > 0) for name in FILL_CHECKS for box in getattr(self, name)),
        )
        for widget, value in checks:
            widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(False)
        combos = (
            (self.schedule, p.sampling.schedule),
            (self.cfg_schedule, p.sampling.cfg_schedule),
            (self.prefill, p.sampling.prefill),
        )
        for combo, text in combos:
            combo.blockSignals(True)
            combo.setCurrentText(text)
            combo.blockSignals(False)
        if not self.class_edit.hasFocus():
            self.class_edit.setText(self._class_text(p.label))

    def _class_text(self, label: int | None) -> str:
        names = self.state.engine_info.class_names if self.state.engine_info else ()
        if label is None or label >= len(names):
            return NONE_CLASS if label is None else f"class {label}"
        return names[label]

    def _engine_changed(self) -> None:
        info = self.state.engine_info
        names = list(info.class_names) if info else []
        self.class_model.setStringList([NONE_CLASS, *names])
        self.class_edit.setEnabled(bool(names))
        self.class_edit.setText(self._class_text(self.state.params.label))
        self._sync_sizes()

    def _sync_extend(self) -> None:
        for box, value in zip(self.side_spins, self.state.extend):
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self._sync_sizes()

    def _sync_sizes(self) -> None:
        W, H = self.state.size
        l, t, r, b = self.state.extend
        self.new_size.setText(f"{W + l + r} × {H + t + b}" if W else "")
        if W:
            windows = len(self.state.windows)
            text = f"Input  {W} × {H}\nOutput {2 * W} × {2 * H}"
            if windows and self.state.mode == "expand":
                text += f"\n{windows} window{'s' * (windows != 1)} of the model"
            self.expand_sizes.setText(text)
        else:
            self.expand_sizes.setText("Open an image to expand it.")

    def _sync_run(self, *_args) -> None:
        s = self.state
        verb = MODE_VERBS[s.mode]
        running = s.running
        reason = s.block_reason
        self.primary.setText("Running…" if running else verb)
        self.primary.setEnabled(not running and not reason)
        self.primary.setToolTip(f"{verb} (Ctrl+Enter)" + (f": {reason}" if reason and not running else ""))
        self.again.setEnabled(not running and not reason)
        self.reason.setText("" if running else reason)
        self.reason.setVisible(bool(reason) and not running)
        self.cancel.setVisible(running)
        self.progress.setVisible(running)
        self.progress_label.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.progress_label.setText("Starting…")
        self._sync_sizes()

    def _progress(self, step: int, total: int, eta: float) -> None:
        if total <= 0:
            return
        self.progress.setRange(0, total)
        self.progress.setValue(step)
        self.progress_label.setText(f"Step {step}/{total} · {time_left(eta)}")

    # --- widgets -> state --------------------------------------------------------------------------

    def _extend_edited(self) -> None:
        self.state.set_extend(tuple(box.value() for box in self.side_spins))

    def _preset(self, extend) -> None:
        if self.state.has_image:
            self.state.set_extend(extend)

    def _aspect_chosen(self, index: int) -> None:
        if index > 0 and self.state.has_image:
            _, aw, ah = ASPECTS[index - 1]
            self.state.set_extend(extend_for_aspect(self.state.size, aw, ah))
        self.aspect.setCurrentIndex(0)

    def _class_edited(self, *_args) -> None:
        text = self.class_edit.text().strip()
        names = self.state.engine_info.class_names if self.state.engine_info else ()
        lowered = [n.lower() for n in names]
        if text.lower() in ("", NONE_CLASS):
            label = None
        elif text.lower() in lowered:
            label = lowered.index(text.lower())
        else:
            matches = [i for i, n in enumerate(lowered) if text.lower() in n]
            label = matches[0] if len(matches) == 1 else self.state.params.label
        self.state.set_params(label=label)
        self.class_edit.setText(self._class_text(label))

    def _copy_seed(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.clipboard().setText(str(self.state.params.seed))
        self.state.message.emit(f"Seed {self.state.params.seed} copied")

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
