"""The main window: assembles canvas, panels and actions, wires state <-> controller, owns file handling."""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from arpg_core.choices import MODES

from . import engine_loader, estimates, file_dialogs, files
from .actions import build_menus, make_actions, shortcut_rows
from .canvas import CanvasView
from .controller import RunController
from .dialogs import PreferencesDialog, ShortcutsDialog
from .document_files import FileActions
from .errors import install_excepthook, setup_logging, show_error
from .history import HistoryPanel
from .jobs import CallJob
from .models_controller import ModelsController
from .models_dialog import ModelsDialog
from .panels import SidePanel
from .settings import APP, ORG, Settings
from .state import AppState, Params
from .style import style_sheet
from .toolbars import build_statusbar, build_toolbars
from .variant_strip import VariantStrip
from .welcome import WelcomeDialog

log = logging.getLogger("arpg_studio")
BRUSH_STEP, BRUSH_BIG_STEP = 1.15, 1.6


class MainWindow(FileActions, QMainWindow):
    def __init__(self, engine=None, settings: Settings | None = None):
        super().__init__()
        if not QCoreApplication.organizationName():
            QCoreApplication.setOrganizationName(ORG)
            QCoreApplication.setApplicationName(APP)
        self.settings = settings or Settings()
        self.state = AppState(self)
        self.state.params = Params.from_dict(self.settings.params())
        self.state.brush_size = self.settings.brush_size()
        self.state.hardness = self.settings.brush_hardness()
        self.state.mask_opacity = self.settings.mask_opacity()
        self.controller = RunController(self.state, self)
        self.quiet = False  # no questions on close (selftest)
        self.models_dialog: ModelsDialog | None = None
        self._prefs: PreferencesDialog | None = None  # while Preferences is open
        self.welcome: WelcomeDialog | None = None
        self._welcome_jobs: list[CallJob] = []
        self.measure = estimates.measure  # times the embedded model for the welcome (tests may swap it)
        self._change_count = self._autosaved_count = 0
        self.setWindowTitle("ARPG Studio")
        self.setAcceptDrops(True)
        self.setStyleSheet(style_sheet())

        self.canvas = CanvasView(self.state)
        self.strip = VariantStrip(self.state)
        center = QWidget()
        v = QVBoxLayout(center)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.canvas, 1)
        v.addWidget(self.strip)
        self.setCentralWidget(center)
        self.panel = SidePanel(self.state)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock = QDockWidget("Edit", self)
        self.dock.setObjectName("editDock")
        self.dock.setWidget(scroll)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.history_panel = HistoryPanel(self.controller.history)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("historyDock")
        self.history_dock.setWidget(self.history_panel)
        self.history_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)
        self.history_dock.hide()

        self.actions_ = make_actions(self)
        self._build_menus()
        self._build_toolbar()
        self._build_statusbar()
        self._connect()
        self.autosave_timer = QTimer(self, interval=max(10, self.settings.autosave_seconds()) * 1000)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        QApplication.instance().installEventFilter(self)
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self._focus_hooked = True
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 860)
        if self.settings.window_state() is not None:
            self.restoreState(self.settings.window_state())
        if engine is not None:
            self.controller.set_engine(engine)
        self._sync_actions()

    def start(self) -> None:
        """After the window shows: load the model in the background; at the very first start, the welcome."""
        if self.controller.engine is None:
            self.load_engine()
        if not self.settings.welcome_seen():
            QTimer.singleShot(0, self.show_welcome)

    def show_welcome(self) -> WelcomeDialog:
        """What the embedded model can and cannot do, and ARPG-L; shown once, then only from Help."""
        from .welcome_flow import show_welcome

        return show_welcome(self)

    def load_engine(self) -> bool:
        """Load the model stored in the settings (at start)."""
        return self.switch_model(**self.settings.model_choice())

    def switch_model(
        self, model: str, tokenizer: str = "", device: str | None = None, precision: str | None = None
    ) -> bool:
        """Load a model in a worker and switch to it once it has loaded; the choice is stored only then.

        Until then the model in use stays in use; when the load fails it stays for good and an error says why.
        Device and precision default to the stored ones. False when a load is in progress already.
        """
        s = self.settings
        return self.controller.load_engine(
            engine_loader.load_default_engine,
            model=model or "embedded",
            tokenizer=tokenizer or "",
            device=device or s.device(),
            precision=precision or s.precision(),
            threads=s.threads(),
        )

    def use_model(self, name: str) -> bool:
        """Switch to an installed model by name, with the tokenizer it pairs with (Models… > Use)."""
        return self.switch_model(model=name, tokenizer="")

    def _switched(self, choice: dict) -> None:
        s = self.settings
        s.set_model(
            choice.get("model", s.model_path()),
            choice.get("tokenizer", ""),
            choice.get("device", s.device()),
            choice.get("precision", s.precision()),
        )
        s.sync()
        if self._prefs is not None:
            self._prefs.sync_model(self._engine_text())

    def _engine_text(self) -> str:
        info = self.state.engine_info
        if info is None:
            return "nothing yet"
        return f"{info.name} on {info.device}" + (f" ({info.precision})" if info.precision else "")

    # --- building ----------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        self.recent_menu = build_menus(self.menuBar(), self.actions_)
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    def _build_toolbar(self) -> None:
        build_toolbars(self)

    def _build_statusbar(self) -> None:
        build_statusbar(self)

    def _connect(self) -> None:
        a, s, c = self.actions_, self.state, self.controller
        a["open"].triggered.connect(self.open_dialog)
        a["paste"].triggered.connect(self.paste)
        a["save"].triggered.connect(self.save)
        a["save_as"].triggered.connect(self.save_as)
        a["export"].triggered.connect(self.export)
        a["copy"].triggered.connect(self.copy_result)
        a["close"].triggered.connect(self.close_document)
        a["quit"].triggered.connect(self.close)
        a["undo"].triggered.connect(self.undo)
        a["redo"].triggered.connect(self.redo)
        a["preferences"].triggered.connect(self.preferences)
        a["models"].triggered.connect(lambda: self.open_models())
        a["brush"].triggered.connect(lambda: (s.set_tool("brush"), s.set_erase(False)))
        a["eraser"].triggered.connect(lambda: (s.set_tool("brush"), s.set_erase(True)))
        a["toggle_eraser"].triggered.connect(lambda: s.set_erase(not s.erase))
        a["rect"].triggered.connect(lambda: s.set_tool("rect"))
        a["lasso"].triggered.connect(lambda: s.set_tool("lasso"))
        a["smaller"].triggered.connect(lambda: self.step_brush(1 / BRUSH_STEP))
        a["larger"].triggered.connect(lambda: self.step_brush(BRUSH_STEP))
        a["much_smaller"].triggered.connect(lambda: self.step_brush(1 / BRUSH_BIG_STEP))
        a["much_larger"].triggered.connect(lambda: self.step_brush(BRUSH_BIG_STEP))
        a["invert"].triggered.connect(s.invert_mask)
        a["grow"].triggered.connect(lambda: s.grow_mask(self.grow_box.value()))
        a["shrink"].triggered.connect(lambda: s.grow_mask(-self.grow_box.value()))
        a["clear"].triggered.connect(s.clear_mask)
        a["import_mask"].triggered.connect(self.import_mask)
        a["export_mask"].triggered.connect(self.export_mask)
        a["fit"].triggered.connect(self.canvas.fit)
        a["actual"].triggered.connect(self.canvas.actual_size)
        a["zoom_in"].triggered.connect(lambda: self.canvas.zoom_by(1.25))
        a["zoom_out"].triggered.connect(lambda: self.canvas.zoom_by(0.8))
        a["grid"].toggled.connect(lambda on: s.set_view(show_grid=on))
        a["split"].toggled.connect(lambda on: s.set_view(split=0.5 if on else None))
        a["run"].triggered.connect(c.run)
        a["again"].triggered.connect(c.again)
        a["cancel"].triggered.connect(c.cancel)
        a["apply"].triggered.connect(c.apply_current)
        a["discard"].triggered.connect(s.discard_current)
        a["prev"].triggered.connect(lambda: s.set_current(s.current - 1))
        a["next"].triggered.connect(lambda: s.set_current(s.current + 1))
        a["use_seed"].triggered.connect(lambda: s.current_variant() and c.replace_seed(s.current_variant()))
        for mode in MODES:
            a[f"mode_{mode}"].triggered.connect(lambda _=False, m=mode: s.set_mode(m))
        a["shortcuts"].triggered.connect(lambda: ShortcutsDialog(shortcut_rows(), self).exec())
        a["about"].triggered.connect(self.about)
        a["welcome"].triggered.connect(self.show_welcome)
        dock = self.history_dock
        a["history"].toggled.connect(lambda on: on != dock.isVisible() and dock.setVisible(on))
        dock.visibilityChanged.connect(lambda on: self.isVisible() and a["history"].setChecked(on))
        self.history_panel.reselect_requested.connect(c.reselect)
        self.history_panel.again_requested.connect(c.replay)
        self.panel.run_requested.connect(c.run)
        self.panel.again_requested.connect(c.again)
        self.panel.cancel_requested.connect(c.cancel)
        self.panel.lanczos_requested.connect(c.lanczos)
        self.strip.apply_requested.connect(c.apply_current)
        self.canvas.file_dropped.connect(self.open_path)
        self.canvas.image_dropped.connect(self.open_qimage)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.canvas.cursor_moved.connect(self._cursor_moved)
        c.error.connect(lambda title, msg, details: show_error(self, title, msg, details))
        c.switched.connect(self._switched)
        s.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        s.undo_stack.canUndoChanged.connect(self._sync_actions)
        s.undo_stack.canRedoChanged.connect(self._sync_actions)
        s.undo_stack.indexChanged.connect(self._changed)
        for sig in (s.document_changed, s.mode_changed, s.tool_changed, s.variants_changed, s.view_changed):
            sig.connect(self._sync_actions)
        s.running_changed.connect(self._sync_actions)
        s.plan_changed.connect(self._sync_actions)
        s.engine_changed.connect(self._sync_actions)
        s.document_changed.connect(self._changed)

    # --- state -> window ---------------------------------------------------------------------------

    def _sync_actions(self, *_args) -> None:
        a, s = self.actions_, self.state
        has, running, variants = s.has_image, s.running, bool(s.variants)
        a["undo"].setEnabled(s.undo_stack.canUndo() and not running)
        a["redo"].setEnabled(s.undo_stack.canRedo() and not running)
        a["undo"].setText(f"&Undo {s.undo_stack.undoText()}".strip())
        a["redo"].setText(f"&Redo {s.undo_stack.redoText()}".strip())
        a["undo"].setIconText("Undo")
        a["redo"].setIconText("Redo")
        for name in ("save", "save_as", "export", "copy", "import_mask", "export_mask"):
            a[name].setEnabled(has or (name == "copy" and variants))
        painting = has and s.mode == "inpaint"
        for name in ("brush", "eraser", "rect", "lasso", "invert", "grow", "shrink", "clear", "toggle_eraser"):
            a[name].setEnabled(painting)
        for action in self.mask_tools:
            action.setEnabled(painting)
        a["brush"].setChecked(s.tool == "brush" and not s.erase)
        a["eraser"].setChecked(s.tool == "brush" and s.erase)
        a["rect"].setChecked(s.tool == "rect")
        a["lasso"].setChecked(s.tool == "lasso")
        a["close"].setEnabled(has or variants)
        for name in ("run", "again"):
            a[name].setEnabled(not running and not s.block_reason)
        a["cancel"].setEnabled(running)
        for name in ("apply", "discard", "prev", "next", "use_seed"):
            a[name].setEnabled(variants and not running)
        for mode in MODES:
            a[f"mode_{mode}"].setChecked(s.mode == mode)
        a["grid"].setChecked(s.show_grid)
        a["split"].setChecked(s.split is not None)
        if self.hardness_box.value() != round(s.hardness * 100):
            self.hardness_box.blockSignals(True)
            self.hardness_box.setValue(round(s.hardness * 100))
            self.hardness_box.blockSignals(False)
        if self.size_box.value() != s.brush_size:
            self.size_box.blockSignals(True)
            self.size_box.setValue(s.brush_size)
            self.size_box.blockSignals(False)
        info = s.engine_info
        c = self.controller
        loading = f"loading {c.loading_what}…" if c.loading else ""
        if info:
            shown = " · ".join(x for x in (info.name, info.device, info.precision) if x)
            self.model_label.setText(f"Model: {shown}" + (f" ({loading})" if loading else ""))
        else:
            self.model_label.setText(f"Model: {loading or 'not loaded'}")
        W, H = s.size
        self.size_label.setText(f"{W} × {H}" if has else "")
        name = (s.save_path or s.source_path).name if (s.save_path or s.source_path) else "Untitled"
        self.setWindowTitle(f"{name}{' •' if s.modified else ''} — ARPG Studio" if has else "ARPG Studio")

    def _cursor_moved(self, x: int, y: int) -> None:
        W, H = self.state.size
        self.pos_label.setText(f"{x}, {y}" if 0 <= x < W and 0 <= y < H else "")

    def _changed(self, *_args) -> None:
        self._change_count += 1

    def undo(self) -> None:
        stack = self.state.undo_stack
        if stack.canUndo():
            text = stack.undoText()
            stack.undo()
            self.state.message.emit(f"Undone: {text}" + (". Ctrl+Shift+Z redoes it" if stack.canRedo() else ""))

    def redo(self) -> None:
        stack = self.state.undo_stack
        if stack.canRedo():
            text = stack.redoText()
            stack.redo()
            self.state.message.emit(f"Redone: {text}")

    def _focus_changed(self, old, new) -> None:
        """Keys stay with the canvas: when the focused button is disabled or hidden (Fill while it runs, Apply
        as the strip goes), Qt would hand the focus to the next field, the toolbar's brush size, where ←/→, C
        and the shortcuts stop working. Hand it to the canvas instead."""
        try:
            if old is None or new is None or new is self.canvas or not self.isAncestorOf(old):
                return
            if (not old.isEnabled() or not old.isVisible()) and (new is self or self.isAncestorOf(new)):
                self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        except RuntimeError:  # a widget being deleted
            return

    def step_brush(self, factor: float) -> None:
        size = self.state.brush_size
        new = round(size * factor)
        self.state.set_brush_size(new if new != size else size + (1 if factor > 1 else -1))
        self.statusBar().showMessage(f"Brush {self.state.brush_size} px", 1500)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Hold C or \\ to see the original; hold Space to pan. Ignored while typing in a field."""
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self.isActiveWindow():
            focus = QApplication.focusWidget()
            typing = isinstance(focus, (QLineEdit, QAbstractSpinBox, QComboBox))
            key = event.key()
            if not typing and not event.isAutoRepeat() and event.modifiers() == Qt.KeyboardModifier.NoModifier:
                pressed = kind == QEvent.Type.KeyPress
                if key in (Qt.Key.Key_C, Qt.Key.Key_Backslash):
                    self.state.set_view(show_original=pressed)
                    return True
                if key == Qt.Key.Key_Space and (self.canvas.underMouse() or self.canvas.hasFocus() or not pressed):
                    self.canvas.set_space(pressed)
                    return True
            elif not typing and event.isAutoRepeat() and key in (Qt.Key.Key_C, Qt.Key.Key_Backslash, Qt.Key.Key_Space):
                return True
        return super().eventFilter(obj, event)

    # --- other dialogs -----------------------------------------------------------------------------

    def preferences(self) -> None:
        dialog = PreferencesDialog(self.settings, self._engine_text(), self)
        dialog.models_requested.connect(lambda: self.open_models(modal=True))
        self._prefs = dialog
        try:
            accepted = dialog.exec() == PreferencesDialog.DialogCode.Accepted
        finally:
            self._prefs = None
        if accepted:
            self.autosave_timer.setInterval(self.settings.autosave_seconds() * 1000)
            choice = dialog.store()
            engine = self.controller.engine
            if engine is not None and hasattr(engine, "thread_overrides"):  # read at the start of each edit
                engine.thread_overrides["setting"] = self.settings.threads()
            if choice:
                self.switch_model(**choice)

    def open_models(self, modal: bool = False) -> ModelsDialog:
        """The Models dialog (one, kept while the window lives: a download goes on when it is closed).

        Modal when opened from Preferences (which is modal itself), else it sits beside the window."""
        d = self.models_dialog
        if d is None:
            d = self.models_dialog = ModelsDialog(ModelsController(self.controller, self.use_model), self)
        modality = Qt.WindowModality.ApplicationModal if modal else Qt.WindowModality.NonModal
        if d.isVisible() and d.windowModality() != modality:
            d.hide()
        if not d.isVisible():
            d.setWindowModality(modality)
            d.show()
            d.refresh()
        d.raise_()
        d.activateWindow()
        return d

    def about(self) -> None:
        info = self.state.engine_info
        model = (
            f"{info.name} ({info.native} px windows, {len(info.class_names)} classes) on {info.device}"
            + (f", {info.precision}" if info.precision else "")
            if info
            else "-"
        )
        QMessageBox.about(
            self, "About ARPG Studio", f"ARPG Studio\nInpaint, outpaint and expand with ARPG.\nModel: {model}"
        )

    def closeEvent(self, event) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.controller.shutdown()
        if self._welcome_jobs:
            from .welcome_flow import stop

            stop(self)
        if self.models_dialog is not None:
            self.models_dialog.shutdown()
            self.models_dialog.hide()
        self.settings.set_window(self.saveGeometry(), self.saveState())
        self.settings.set_params(self.state.params.to_dict())
        self.settings.set_brush_size(self.state.brush_size)
        self.settings.set_brush_hardness(self.state.hardness)
        self.settings.set_mask_opacity(self.state.mask_opacity)
        self.settings.sync()
        files.clear_autosave()
        QApplication.instance().removeEventFilter(self)
        if self._focus_hooked:
            QApplication.instance().focusChanged.disconnect(self._focus_changed)
            self._focus_hooked = False
        event.accept()

    def dragEnterEvent(self, event) -> None:
        self.canvas.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.canvas.dropEvent(event)


def run_app(argv: list[str]) -> int:
    """Start the GUI, opening the image named in ``argv`` if any; ``--selftest`` runs one small inpaint
    offscreen and prints one line."""
    selftest = "--selftest" in argv
    if selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    QCoreApplication.setOrganizationName(ORG)
    QCoreApplication.setApplicationName(APP)
    if not selftest and QApplication.instance() is None:
        file_dialogs.prefer_native()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    setup_logging()
    if selftest:
        from .selftest import selftest as run_selftest

        return run_selftest(MainWindow)
    install_excepthook()
    unknown = [a for a in argv if a.startswith("-")]
    if unknown:
        print(f"arpg-studio: unknown option {unknown[0]} (try --selftest or -h)", file=sys.stderr)
        return 2
    window = show_window([a for a in argv if not a.startswith("-")])  # referenced while the loop runs
    code = app.exec()
    window.deleteLater()
    return code


def show_window(documents: list[str]) -> MainWindow:
    """Show the main window and, once the event loop runs, load the model and open the first document
    (`arpg-studio photo.jpg`, as a file manager's "Open with" runs it) or offer a crash recovery."""
    window = MainWindow()
    window.show()
    QTimer.singleShot(0, window.start)
    if documents:
        QTimer.singleShot(0, lambda: window.open_path(documents[0]))
    else:
        QTimer.singleShot(200, window.offer_recovery)
    return window
