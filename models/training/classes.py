"""Class names of the detector in heatmap-channel order, and the simulator labels they map from."""

from __future__ import annotations

__all__ = ["CLASSES", "class_index"]

#: Heatmap channels in order; ``phone`` first (the scan score is its confidence).
CLASSES: tuple[str, ...] = ("phone", "power_bank", "battery", "sim_card", "blade", "drug_package")

_ALIASES = {
    "mobile_phone": "phone",
    "smartphone": "phone",
    "feature_phone": "phone",
    "mini_phone": "phone",
    "powerbank": "power_bank",
    "sim": "sim_card",
    "knife": "blade",
    "razor_blade": "blade",
    "drugs": "drug_package",
    "drug": "drug_package",
}


def class_index(category: str) -> int | None:
    """Heatmap channel of a simulator category, or None for categories the model does not detect.

    Parameters
    ----------
    category : str
        Category name from the simulator or a COCO file (case-insensitive).
    """
    name = category.strip().lower().replace("-", "_").replace(" ", "_")
    name = _ALIASES.get(name, name)
    return CLASSES.index(name) if name in CLASSES else None
