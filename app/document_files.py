"""The main window's file handling: open (the new file is read before any question about unsaved changes),
close, save (the file dialog's filter follows the suggested name; No to overwriting the source goes back to
the dialog; JPEG and BMP, which have no alpha, say so and flatten onto a chosen colour), export, masks,
autosave and recovery. A mixin of MainWindow: it uses the window's state, settings and controller."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from arpg_core.choices import MODES

from . import file_dialogs, files
from .convert import qimage_to_rgb, rgb_to_qimage
from .dialogs import ExportDialog, FlattenDialog
from .errors import show_error

NO_ALPHA = (".jpg", ".jpeg", ".bmp")


def flatten(rgb: np.ndarray, alpha: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """The image composited onto a solid colour (what a format without alpha can store)."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    bg = np.asarray(color, np.float32)[None, None, :]
    return np.clip(np.round(rgb.astype(np.float32) * a + bg * (1.0 - a)), 0, 255).astype(np.uint8)


class FileActions:
    """Open, close, save, export, masks, autosave (mixed into MainWindow)."""

    def confirm_discard(self) -> bool:
        """True when it is fine to replace the document (asks when it has unsaved changes)."""
        if not self.state.modified or self.quiet:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            "The image has changes that are not saved. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def open_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open image", self.settings.last_dir(), files.OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a photo: a file that cannot be read is refused before any question about unsaved changes."""
        path = Path(path)
        try:
            img = files.load_image(path)
        except files.ImageError as e:
            show_error(self, "Cannot open the image", str(e))
            return False
        if not self.confirm_discard():
            return False
        self.controller.cancel()
        self.state.load_document(img.rgb, img.alpha, img.icc, img.exif, path)
        self.settings.add_recent(path)
        self.settings.set_last_dir(path)
        self.state.message.emit(f"Opened {path.name} ({img.size[0]} × {img.size[1]}, {img.mode})")
        return True

    def open_qimage(self, image: QImage) -> bool:
        if image.isNull() or not self.confirm_discard():
            return False
        rgb, alpha = qimage_to_rgb(image)
        self.state.load_document(rgb, alpha, saved=False)
        return True

    def close_document(self) -> bool:
        """File > Close: back to the empty window (asks first when there are unsaved changes)."""
        if not self.state.has_image and not self.state.variants:
            return False
        if not self.confirm_discard():
            return False
        self.controller.cancel()
        self.state.close_document()
        files.clear_autosave()
        self._autosaved_count = self._change_count
        self.state.message.emit("Closed")
        return True

    def paste(self) -> None:
        mime = QApplication.clipboard().mimeData()
        files_ = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime else []
        if files_:
            self.open_path(files_[0])
        elif mime is not None and mime.hasImage():
            self.open_qimage(QImage(mime.imageData()))
        else:
            self.state.message.emit("The clipboard holds no image")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(self.settings.clear_recent)

    def ask_save_path(self, suggested: Path, caption: str = "Save as") -> Path | None:
        """The save dialog, its filter on the suggested name's format (so files of that type are listed)."""
        selected = files.filter_for(suggested)
        path, chosen = file_dialogs.save_file(self, caption, str(suggested), files.SAVE_FILTER, selected)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix else path.with_suffix(files.suffix_for_filter(chosen or selected))

    def save(self) -> bool:
        """Save to the file chosen before; the first Save of an opened file is a Save As with a new name."""
        if self.state.save_path is None:
            return self.save_as()
        return self.write(self.state.save_path)

    def save_as(self) -> bool:
        """Save under a new name; No to replacing the opened file goes back to the dialog."""
        s = self.state
        if not s.has_image:
            return False
        suggested = files.suggested_save_path(s.source_path, s.save_path, self.settings.last_dir())
        while True:
            path = self.ask_save_path(suggested)
            if path is None:
                return False
            if s.source_path is None or path.resolve() != s.source_path.resolve() or self.quiet:
                return self.write(path)
            answer = QMessageBox.warning(
                self,
                "Overwrite the original?",
                f"{path.name} is the file you opened. Replace it with the edited image?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer == QMessageBox.StandardButton.Yes:
                return self.write(path)
            suggested = files.suggested_save_path(s.source_path, None, self.settings.last_dir())

    def ask_flatten(self, path: Path) -> tuple[int, int, int] | None:
        """JPEG and BMP have no transparency: ask which colour to flatten onto (None: cancel the save)."""
        dialog = FlattenDialog(path, self.state.alpha, self)
        if dialog.exec() != FlattenDialog.DialogCode.Accepted:
            return None
        return dialog.color()

    def write(self, path: Path, quality: int = 95, mark: bool = True) -> bool:
        s = self.state
        rgb, alpha, note = s.rgb, s.alpha, ""
        if alpha is not None and path.suffix.lower() in NO_ALPHA and (alpha < 255).any():
            color = (255, 255, 255) if self.quiet else self.ask_flatten(path)
            if color is None:
                s.message.emit("Not saved")
                return False
            rgb, alpha = flatten(rgb, alpha, color), None
            note = f" (transparency flattened onto #{color[0]:02x}{color[1]:02x}{color[2]:02x})"
        try:
            files.save_image(path, rgb, alpha, s.icc, s.exif, quality=quality, force=True)
        except (OSError, ValueError) as e:
            show_error(self, "Cannot save", str(e))
            return False
        self.settings.add_recent(path)
        self.settings.set_last_dir(path)
        if mark:
            s.mark_saved(path)
            files.clear_autosave()
            self._autosaved_count = self._change_count
        s.message.emit(f"Saved {path}{note}")
        return True

    def export(self) -> None:
        s = self.state
        if not s.has_image:
            return
        suggested = files.suggested_save_path(s.source_path, s.save_path, self.settings.last_dir())
        dialog = ExportDialog(suggested, self.settings.export_quality(), self)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        path, quality = dialog.choice()
        if path.exists():
            answer = QMessageBox.question(self, "Replace?", f"{path.name} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.settings.set_export_quality(quality)
        self.write(path, quality, mark=False)

    def copy_result(self) -> None:
        s = self.state
        v = s.current_variant()
        if v is not None:
            QApplication.clipboard().setImage(rgb_to_qimage(v.image))
        elif s.has_image:
            QApplication.clipboard().setImage(rgb_to_qimage(s.rgb, s.alpha))
        else:
            return
        s.message.emit("Copied to the clipboard")

    def import_mask(self) -> None:
        s = self.state
        path = file_dialogs.open_file(self, "Import mask", self.settings.last_dir(), files.OPEN_FILTER)
        if not path:
            return
        try:
            mask = files.load_mask(path, s.size)
        except files.ImageError as e:
            show_error(self, "Cannot import the mask", str(e))
            return
        s.set_mask(mask, "Import mask")

    def export_mask(self) -> None:
        s = self.state
        stem = (s.save_path or s.source_path or Path("untitled")).stem
        path = self.ask_save_path(files.free_name(Path(self.settings.last_dir()) / f"{stem}_mask.png"), "Export mask")
        if path is None:
            return
        try:
            files.save_mask(path, s.mask, force=True)  # grey where the brush was soft
        except (OSError, ValueError) as e:
            show_error(self, "Cannot export the mask", str(e))
            return
        s.message.emit(f"Mask saved to {path}")

    # --- autosave and recovery ---------------------------------------------------------------------

    def autosave(self, force: bool = False):
        s = self.state
        if not s.has_image or (self._autosaved_count == self._change_count and not force):
            return None
        self._autosaved_count = self._change_count
        meta = {  # each one read back by ``recover``
            "source_path": str(s.source_path) if s.source_path else None,
            "mode": s.mode,
            "extend": list(s.extend),
        }
        return files.write_autosave(s.rgb, s.alpha, s.mask, s.icc, s.exif, meta)

    def offer_recovery(self) -> None:
        data = files.read_autosave()
        if data is None:
            return
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(data["meta"].get("saved_at", 0)))
        name = Path(data["meta"].get("source_path") or "untitled").name
        answer = QMessageBox.question(
            self, "Recover unsaved work?", f"ARPG Studio did not close normally. Recover {name} autosaved at {when}?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.recover(data)
        else:
            files.clear_autosave()

    def recover(self, data: dict) -> None:
        s = self.state
        src = data["meta"].get("source_path")
        s.load_document(data["rgb"], data["alpha"], data["icc"], data["exif"], Path(src) if src else None, saved=False)
        if data["mask"].shape == s.mask.shape:
            s.set_mask(data["mask"], "Recovered mask")  # through undo, as every change of the mask
        meta = data["meta"]
        if meta.get("mode") in MODES:
            s.set_mode(meta["mode"])
        extend = meta.get("extend")
        if isinstance(extend, list) and len(extend) == 4 and all(isinstance(v, int) for v in extend):
            s.set_extend(tuple(extend))
        s.message.emit("Recovered the autosaved document")
        self._sync_actions()
