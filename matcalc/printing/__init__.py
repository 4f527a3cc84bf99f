"""Printers: plain text (round-trips through parse), Unicode, LaTeX; code generation later."""
