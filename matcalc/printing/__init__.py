"""Printers: plain text (round-trips through parse), Unicode, LaTeX, and code (NumPy, JAX, PyTorch).

A layer above the calculus: each printer is a table keyed by node type. The Unicode printer
registers itself with errors.show(), which is how the layers below name nodes in messages.
"""
