"""The window's actions, declared as data: name, text, shortcuts, tooltip. Tooltips name the keys."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

# name: (text, shortcuts, status tip)
ACTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "open": ("&Open…", ("Ctrl+O",), "Open an image"),
    "paste": ("&Paste image", ("Ctrl+V",), "Open the image on the clipboard"),
    "save": ("&Save", ("Ctrl+S",), "Save the document (the opened file is never overwritten without asking)"),
    "save_as": ("Save &As…", ("Ctrl+Shift+S",), "Save under a new name"),
    "export": ("&Export…", ("Ctrl+E",), "Export as PNG, JPEG or WebP with a chosen quality"),
    "copy": ("&Copy result", ("Ctrl+C",), "Copy the shown result (or the document) to the clipboard"),
    "close": ("&Close", ("Ctrl+W",), "Close the image (asks first when it has unsaved changes)"),
    "quit": ("&Quit", ("Ctrl+Q",), "Quit ARPG Studio"),
    "undo": ("&Undo", ("Ctrl+Z",), "Undo"),
    "redo": ("&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo"),
    "preferences": ("Pre&ferences…", ("Ctrl+,",), "Model, device, precision, autosave"),
    "models": ("&Models…", ("Ctrl+Shift+M",), "Download, import, remove and switch models"),
    "brush": ("&Brush", ("B",), "Paint the mask"),
    "eraser": ("&Eraser", ("E",), "Erase the mask"),
    "toggle_eraser": ("Toggle brush/eraser", ("X",), "Switch between brush and eraser"),
    "rect": ("&Rectangle", ("R",), "Drag a rectangle onto the mask (erases in eraser mode)"),
    "lasso": ("&Lasso", ("L",), "Draw a freehand outline; it fills on release (erases in eraser mode)"),
    "smaller": ("Smaller brush", ("[",), "Brush size down (Shift+[ for larger steps)"),
    "larger": ("Larger brush", ("]",), "Brush size up (Shift+] for larger steps)"),
    "much_smaller": ("Much smaller brush", ("Shift+[", "{"), "Brush size down by a lot"),
    "much_larger": ("Much larger brush", ("Shift+]", "}"), "Brush size up by a lot"),
    "invert": ("&Invert mask", ("Ctrl+Shift+I", "Ctrl+I"), "Swap masked and unmasked"),
    "grow": ("&Grow mask", ("Ctrl+G",), "Grow the mask by the amount next to the button"),
    "shrink": ("S&hrink mask", ("Ctrl+Shift+G",), "Shrink the mask by the amount next to the button"),
    "clear": ("&Clear mask", ("Ctrl+D",), "Remove the whole mask"),
    "import_mask": ("Import mask…", ("Ctrl+Alt+I",), "Load a mask PNG (white = regenerate)"),
    "export_mask": ("Export mask…", ("Ctrl+Shift+E",), "Save the mask as a PNG (white = regenerate)"),
    "fit": ("&Fit", ("Ctrl+0",), "Fit the image in the window"),
    "actual": ("&100%", ("Ctrl+1",), "One image pixel per screen pixel"),
    "zoom_in": ("Zoom in", ("Ctrl+=", "Ctrl++"), "Zoom in"),
    "zoom_out": ("Zoom out", ("Ctrl+-",), "Zoom out"),
    "grid": ("Token &grid", ("G",), "Show the model's token grid and the windows that will run"),
    "split": ("&Split compare", ("Ctrl+\\",), "Result on the left, original on the right; drag the line"),
    "history": ("&History", ("Ctrl+Shift+H",), "The applied edits with their settings; click one, Again runs it again"),
    "run": ("&Run", ("Ctrl+Return", "Ctrl+Enter"), "Run the primary action"),
    "again": ("&Again (new seed)", ("Ctrl+Shift+Return", "Ctrl+Shift+Enter"), "Run again with a new seed"),
    "cancel": ("&Cancel", ("Esc",), "Stop the run; the document stays as it was"),
    "apply": ("&Apply variant", ("Return", "Enter"), "Apply the shown variant"),
    "discard": ("&Discard variant", ("Delete",), "Drop the shown variant"),
    "prev": ("&Previous variant", ("Left",), "Show the previous variant"),
    "next": ("&Next variant", ("Right",), "Show the next variant"),
    "use_seed": ("Use this variant's &seed", (), "Put the shown variant's seed into the seed field"),
    "mode_inpaint": ("&Inpaint", ("Alt+1",), "Regenerate the painted area"),
    "mode_outpaint": ("&Outpaint", ("Alt+2",), "Extend the canvas"),
    "mode_expand": ("&Expand 2x", ("Alt+3",), "Double the resolution"),
    "mode_generate": ("&Generate", ("Alt+4",), "A new image of a class"),
    "shortcuts": ("&Keyboard shortcuts", ("F1",), "List every shortcut"),
    "welcome": ("&Welcome and models…", (), "What the embedded model can do, and the full-quality model"),
    "about": ("&About ARPG Studio", (), "Version and model"),
}

# keys that are not actions, for the Help list
EXTRA_KEYS = (
    ("Pan", "Space+drag, middle-drag"),
    ("Zoom around the cursor", "Wheel, Ctrl+wheel"),
    ("Brush size", "Alt+wheel"),
    ("Show the original while held", "C or \\"),
)


def make_actions(parent: QWidget) -> dict[str, QAction]:
    out = {}
    for name, (text, keys, tip) in ACTIONS.items():
        action = QAction(text, parent)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
        plain = text.replace("&", "").rstrip("…")
        shown = QKeySequence(keys[0]).toString(QKeySequence.SequenceFormat.NativeText) if keys else ""
        action.setToolTip(f"{plain} ({shown})" if shown else plain)
        action.setStatusTip(tip)
        parent.addAction(action)
        out[name] = action
    return out


def shortcut_rows() -> list[tuple[str, str]]:
    rows = []
    for text, keys, _tip in ACTIONS.values():
        if keys:
            native = ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            rows.append((text.replace("&", "").rstrip("…"), native))
    return rows + list(EXTRA_KEYS)


# the menu bar; None is a separator, "@recent" the Open Recent submenu
MENUS: dict[str, tuple[str | None, ...]] = {
    "&File": ("open", "@recent", "paste", None, "save", "save_as", "export", "copy", None, "close", "quit"),
    "&Edit": ("undo", "redo", None, "models", "preferences"),
    "&Mask": (
        "brush",
        "eraser",
        "toggle_eraser",
        "rect",
        "lasso",
        None,
        "smaller",
        "larger",
        None,
        "invert",
        "grow",
        "shrink",
        "clear",
        None,
        "import_mask",
        "export_mask",
    ),
    "&View": ("fit", "actual", "zoom_in", "zoom_out", None, "grid", "split", None, "history"),
    "&Run": (
        "mode_inpaint",
        "mode_outpaint",
        "mode_expand",
        "mode_generate",
        None,
        "run",
        "again",
        "cancel",
        None,
        "apply",
        "discard",
        "prev",
        "next",
        "use_seed",
    ),
    "&Help": ("shortcuts", "welcome", "about"),
}
CHECKABLE = (
    "brush",
    "eraser",
    "rect",
    "lasso",
    "grid",
    "history",
    "split",
    "mode_inpaint",
    "mode_outpaint",
    "mode_expand",
    "mode_generate",
)


def build_menus(bar: QMenuBar, actions: dict[str, QAction]) -> QMenu:
    """Fill the menu bar from MENUS; returns the (empty) Open Recent menu."""
    recent = None
    for title, entries in MENUS.items():
        menu = bar.addMenu(title)
        for name in entries:
            if name is None:
                menu.addSeparator()
            elif name == "@recent":
                recent = menu.addMenu("Open &Recent")
            else:
                menu.addAction(actions[name])
    for name in CHECKABLE:
        actions[name].setCheckable(True)
    return recent
