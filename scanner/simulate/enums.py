"""Coded values of the simulator; each value is the string written to annotations."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CATEGORY_IDS", "Category", "Concealment", "Location", "Pose", "Sex"]


class Category(StrEnum):
    """Contraband classes (COCO categories)."""

    PHONE = "phone"
    POWER_BANK = "power_bank"
    BATTERY = "battery"
    SIM_CARD = "sim_card"
    BLADE = "blade"
    DRUG_PACKAGE = "drug_package"


#: Fixed COCO category ids.
CATEGORY_IDS: dict[Category, int] = {
    Category.PHONE: 1,
    Category.POWER_BANK: 2,
    Category.BATTERY: 3,
    Category.SIM_CARD: 4,
    Category.BLADE: 5,
    Category.DRUG_PACKAGE: 6,
}


class Concealment(StrEnum):
    """Where relative to the body an object is hidden."""

    CLOTHING = "clothing"
    INTERNAL = "internal"


class Location(StrEnum):
    """Named hiding places."""

    WAISTBAND = "waistband"
    POCKET = "pocket"
    ARMPIT = "armpit"
    BRA = "bra"
    SOCK = "sock"
    SHOE = "shoe"
    SEAM = "seam"
    RECTAL = "rectal"
    VAGINAL = "vaginal"
    SWALLOWED = "swallowed"

    @property
    def concealment(self) -> Concealment:
        """Clothing or internal concealment."""
        internal = {Location.RECTAL, Location.VAGINAL, Location.SWALLOWED}
        return Concealment.INTERNAL if self in internal else Concealment.CLOTHING


class Sex(StrEnum):
    """Body type of the phantom."""

    MALE = "male"
    FEMALE = "female"


class Pose(StrEnum):
    """Arm pose during the scan."""

    ARMS_DOWN = "arms_down"
    ARMS_OUT = "arms_out"
    ARMS_UP = "arms_up"
