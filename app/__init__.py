"""ARPG Studio's desktop app (PySide6). It depends on arpg_core; arpg_core never imports it."""
