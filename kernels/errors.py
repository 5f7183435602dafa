"""Errors raised by the kernel wrappers.

Every public kernel validates its input before calling compiled code, so a caller sees one of these
(with a message saying what is wrong and how to fix it), never a Numba typing traceback.
"""

from __future__ import annotations

__all__ = ["EmptyMaskError", "KernelDtypeError", "KernelError", "KernelInputError"]


class KernelError(Exception):
    """Base class of every error raised by :mod:`kernels`."""


class KernelInputError(KernelError, ValueError):
    """An argument has the wrong shape, size or value (NaN/inf, negative pitch, ...)."""


class KernelDtypeError(KernelError, TypeError):
    """An argument has the wrong type or dtype (e.g. a complex or object array)."""


class EmptyMaskError(KernelInputError):
    """A mask has no foreground pixel where one is needed (e.g. body bounds of an empty scan)."""
