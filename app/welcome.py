"""The first-start welcome: what the embedded model can and cannot do, and ARPG-L (its download size, disk and
memory needs, and its time per edit on this computer, estimated from a timing of the embedded model), downloadable
in one click or importable from a file. Shown once; Help > Welcome and models… brings it back.

A view only: the window fills it (``set_offer``, ``set_timing``) from worker jobs and acts on its signals.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtWidgets import QDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout


def size_text(n: int) -> str:
    return QLocale().formattedDataSize(int(n), 1, QLocale.DataSizeFormat.DataSizeSIFormat)


def seconds_text(s: float) -> str:
    """'0.4 s', '12 s', '3 min'"""
    if s < 10:
        return f"{s:.1f} s"
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min"


def _label(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class WelcomeDialog(QDialog):
    download_requested = Signal()
    import_requested = Signal()

    def __init__(self, class_names: tuple[str, ...] = (), parent=None):
        super().__init__(parent)
        self.setWindowTitle("Welcome to ARPG Studio")
        self.setMinimumWidth(600)
        self.offer = None
        self.timing = None
        v = QVBoxLayout(self)
        v.setSpacing(10)
        title = _label("Welcome to ARPG Studio")
        title.setObjectName("welcomeTitle")
        v.addWidget(title)
        v.addWidget(_label("<b>You are using the small embedded model</b> (8.1 M parameters, part of the app)."))
        v.addWidget(
            _label(
                "It can: fill a painted area with colours and textures that continue what surrounds it, extend "
                "the canvas, double the resolution, offline and on any CPU; pixels outside the edit never change."
            )
        )
        self.cannot = _label()
        v.addWidget(self.cannot)
        self.set_classes(class_names)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        v.addWidget(line)
        self.offer_title = _label("<b>For full quality: ARPG-L</b>")
        v.addWidget(self.offer_title)
        self.offer_text = _label("Reading the model list…")
        v.addWidget(self.offer_text)
        self.timing_text = _label("Timing the embedded model on this computer…")
        v.addWidget(self.timing_text)
        self.how = _label("", "hint")
        v.addWidget(self.how)
        row = QHBoxLayout()
        self.download = QPushButton("Download ARPG-L")
        self.download.setObjectName("primary")
        self.download.setToolTip("Download ARPG-L and its tokenizer VQ-16, then switch to it")
        self.download.clicked.connect(self._download)
        self.import_button = QPushButton("Import a file…")
        self.import_button.setToolTip("Install arpg_300m.pt (and vq_ds16_c2i.pt) that you already have, offline")
        self.import_button.clicked.connect(self._import)
        keep = QPushButton("Keep the embedded model")
        keep.clicked.connect(self.accept)
        row.addWidget(self.download)
        row.addWidget(self.import_button)
        row.addStretch(1)
        row.addWidget(keep)
        v.addLayout(row)
        v.addWidget(_label("This shows once. Help > Welcome and models… brings it back.", "hint"))

    def set_classes(self, names: tuple[str, ...]) -> None:
        classes = f"its {len(names)} classes ({', '.join(names)})" if names else "its few classes"
        self.cannot.setText(
            "It cannot: draw recognisable objects, faces or text, or keep fine detail sharp: its tokenizer is "
            f"blurry, and {classes} only steer the overall look."
        )
        self.adjustSize()

    def set_offer(self, offer) -> None:
        """An ``estimates.Offer``: sizes, and whether it is installed already."""
        self.offer = offer
        self.offer_title.setText(f"<b>For full quality: {offer.name}</b>")
        self.offer_text.setText(
            f"{offer.name} ({offer.parameters / 1e6:.0f} M parameters, {offer.classes}) with its tokenizer "
            f"{offer.tokenizer}: download {size_text(offer.download_bytes)}, {size_text(offer.disk_bytes)} on disk "
            f"(twice that free while it converts), about {size_text(offer.memory_bytes)} of memory."
        )
        self.download.setText(
            f"{offer.name} is installed"
            if offer.installed
            else f"Download {offer.name} ({size_text(offer.download_bytes)})"
        )
        self.download.setEnabled(not offer.installed)
        self.import_button.setEnabled(not offer.installed)
        self.adjustSize()

    def set_timing(self, timing) -> None:
        """An ``estimates.Timing``: the embedded model's time here and the estimate derived from it."""
        self.timing = timing
        name = self.offer.name if self.offer else "ARPG-L"
        self.timing_text.setText(
            f"On this computer one edit ({timing.steps} steps, one window) takes about "
            f"{seconds_text(timing.estimate_seconds)} with {name}."
        )
        self.how.setText(timing.explain(name))
        self.adjustSize()

    def set_timing_failed(self, message: str) -> None:
        self.timing_text.setText(f"The embedded model could not be timed here: {message}")

    def _download(self) -> None:
        self.download_requested.emit()
        self.accept()

    def _import(self) -> None:
        self.import_requested.emit()
        self.accept()
