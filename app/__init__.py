"""ARPG Studio's desktop app (PySide6). It depends on arpg_core; arpg_core never imports it."""

import ctypes
import sys


def _keep_none_alive() -> None:
    """PySide6 6.12 on Python 3.11 drops a reference to None on every call of a method that returns nothing
    (``widget.update()``, ``view.scale()``…); after some thousands of calls None's count reaches zero and Python
    aborts ("none_dealloc: deallocating None"), which ended long sessions and the screenshot script mid-run.
    Python 3.12 made None immortal (PEP 683), which is what its bindings assume; on older CPythons None gets a
    count that no session can use up. None is a static object and is never freed, so nothing else changes."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    count = ctypes.c_ssize_t.from_address(id(None))
    if count.value < 2**60:
        count.value += 2**60


_keep_none_alive()
