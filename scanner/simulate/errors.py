"""Errors raised by the scan simulator and threat image projection.

Every message says what is wrong and how to fix it.
"""

from __future__ import annotations


class SimulationError(ValueError):
    """Base class of every error the simulator raises (a bad parameter or an impossible request)."""


class ConfigError(SimulationError):
    """A :class:`~scanner.simulate.SimConfig` field is out of range or inconsistent."""


class PlacementError(SimulationError):
    """An object cannot be placed where it was asked to go (outside the image, unknown location)."""


class ProjectionError(SimulationError):
    """Threat image projection cannot insert the object into the given scan."""
