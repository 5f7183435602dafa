"""Policy for readable but non-conformant scans (missing spacing, odd attributes...).

Readers collect problems in a :class:`Conformance` record instead of raising or warning on the
spot; the caller's :class:`Validation` policy then decides what happens, as pydicom's
``config.settings.reading_validation_mode`` does for DICOM values.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from enum import StrEnum

from scanner.errors import NonConformantScanError, ScanWarning

__all__ = ["Conformance", "Validation"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


class Validation(StrEnum):
    """What to do with a conformance problem."""

    #: Read on silently (problems are still logged at DEBUG level).
    IGNORE = "ignore"
    #: Read on and emit one :class:`~scanner.errors.ScanWarning` per problem.
    WARN = "warn"
    #: Refuse the scan with :class:`~scanner.errors.NonConformantScanError`.
    RAISE = "raise"


@dataclass
class Conformance:
    """Problems found while reading one scan.

    Parameters
    ----------
    source : str
        What was read (a file name or ``"<bytes>"``), used in messages.
    """

    source: str
    problems: list[str] = field(default_factory=list)

    def report(self, problem: str) -> None:
        """Record one problem: what is wrong, what was assumed and how to fix it."""
        logger.debug("%s: %s", self.source, problem)
        self.problems.append(problem)

    def apply(self, policy: Validation | str) -> None:
        """Apply ``policy`` to the recorded problems.

        Raises
        ------
        NonConformantScanError
            Under :attr:`Validation.RAISE` when any problem was recorded.
        """
        policy = Validation(policy)
        if not self.problems or policy is Validation.IGNORE:
            return
        if policy is Validation.RAISE:
            listed = "; ".join(self.problems)
            raise NonConformantScanError(
                f"{self.source} is not conformant: {listed}. Fix the file at its source, or read "
                "it with validation='warn' to accept the stated assumptions."
            )
        for problem in self.problems:
            warnings.warn(f"{self.source}: {problem}", ScanWarning, stacklevel=3)
