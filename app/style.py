"""The window's style sheet: a dark, quiet theme that keeps the image the brightest thing on screen."""

import sys
from pathlib import Path


def icons_dir() -> Path:
    """assets/icons in the source tree or in the frozen app's bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    base = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return base / "assets" / "icons"


_STYLE = """
QMainWindow, QDialog, QMessageBox, QDockWidget, QScrollArea,
QScrollArea > QWidget > QWidget { background: #2b2b2e; color: #e6e6e8; }
QWidget { color: #e6e6e8; }
QMessageBox QLabel { color: #e6e6e8; }
QTextEdit, QTableWidget { background: #1e1e21; color: #e6e6e8; border: 1px solid #44444a; }
QHeaderView::section { background: #333337; color: #e6e6e8; border: none; padding: 4px; }
QMenuBar, QMenu, QToolBar, QStatusBar { background: #232326; color: #e6e6e8; }
QMenu::item:selected, QMenuBar::item:selected { background: #3d6fb6; }
QMenu::item:disabled { color: #77777c; }
QToolBar { border: none; padding: 2px; spacing: 2px; }
QToolBar QToolButton { padding: 4px 7px; border-radius: 4px; }
QToolBar QToolButton:hover { background: #3a3a3f; }
QToolBar QToolButton:checked { background: #3d6fb6; color: white; }
QToolBar QToolButton:disabled { color: #6a6a70; }
QToolBar QToolButton:checked:disabled { background: #34404f; color: #8c96a3; }
QToolBar::separator:horizontal {
    background: #4a4a50; width: 1px; margin-left: 5px; margin-right: 5px; margin-top: 6px; margin-bottom: 6px; }
QDockWidget::title { background: #232326; padding: 5px; }
QGroupBox { border: 1px solid #3b3b40; border-radius: 6px; margin-top: 14px; padding: 8px 6px 6px 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #b9b9c0; }
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox {
    background: #1e1e21; border: 1px solid #44444a; border-radius: 4px; padding: 3px 5px; color: #e6e6e8; }
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus { border-color: #5b8fd8; }
QLineEdit:disabled, QSpinBox:disabled { color: #6a6a70; }
QPushButton { background: #3a3a3f; border: 1px solid #4a4a50; border-radius: 5px; padding: 5px 10px; }
QPushButton:hover { background: #45454b; }
QPushButton:disabled { color: #6e6e74; background: #313135; border-color: #3a3a3f; }
QPushButton#primary { background: #3d6fb6; border-color: #4f82c9; color: white; font-weight: 600; font-size: 11pt; }
QPushButton#primary:hover { background: #4a7cc4; }
QPushButton#primary:disabled { background: #34404f; color: #8c96a3; border-color: #3b4756; }
QToolButton#modeButton { background: #333337; border: 1px solid #45454b; padding: 6px 4px; }
QToolButton#modeButton:checked { background: #3d6fb6; border-color: #4f82c9; color: white; font-weight: 600; }
QLabel#hint { color: #a5a5ad; }
QLabel#reason { color: #f0b45a; }
QLabel#sizes { font-size: 11pt; padding: 4px 0; }
QProgressBar { background: #1e1e21; border: none; border-radius: 4px; }
QProgressBar::chunk { background: #5b8fd8; border-radius: 4px; }
QListWidget { background: #232326; border: none; }
QListWidget::item { color: #cfcfd4; padding: 2px; }
QListWidget::item:selected { background: #3d6fb6; color: white; border-radius: 4px; }
QCheckBox { spacing: 5px; }
QCheckBox::indicator { width: 14px; height: 14px; border: 1px solid #55555c; border-radius: 3px; background: #1e1e21; }
QCheckBox::indicator:checked { background: #3d6fb6; border-color: #4f82c9; image: url(ICONS/check.svg); }
QSpinBox, QDoubleSpinBox { padding-right: 18px; }
QSpinBox::up-button, QDoubleSpinBox::up-button { subcontrol-position: top right; width: 16px; border: none; }
QSpinBox::down-button, QDoubleSpinBox::down-button { subcontrol-position: bottom right; width: 16px; border: none; }
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover,
QSpinBox::down-button:hover, QDoubleSpinBox::down-button:hover { background: #3a3a3f; }
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow { image: url(ICONS/arrow-up.svg); width: 9px; height: 6px; }
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow { image: url(ICONS/arrow-down.svg); width: 9px; height: 6px; }
QComboBox::drop-down { border: none; width: 18px; }
QComboBox::down-arrow { image: url(ICONS/arrow-down.svg); width: 9px; height: 6px; }
QComboBox QAbstractItemView { background: #1e1e21; selection-background-color: #3d6fb6; }
QToolButton { border: 1px solid transparent; border-radius: 4px; padding: 3px 6px; }
QToolButton:hover { background: #3a3a3f; }
QToolButton:disabled { color: #6a6a70; }
QToolTip { background: #1e1e21; color: #e6e6e8; border: 1px solid #55555c; }
QTreeView, QListView, QColumnView {
    background: #1e1e21; alternate-background-color: #242428; color: #e6e6e8; border: 1px solid #44444a;
    selection-background-color: #3d6fb6; selection-color: white; }
QTreeView::item:selected, QListView::item:selected { background: #3d6fb6; color: white; }
QFileDialog QLineEdit, QFileDialog QComboBox { min-height: 20px; }
QLabel#link { color: #9cc2ff; }
QLabel#link:hover { color: #c4dbff; }
QLabel#welcomeTitle { font-size: 15pt; font-weight: 600; }
"""


def style_sheet() -> str:
    return _STYLE.replace("ICONS", icons_dir().as_posix())
