"""``provisioner import``: an inventory CSV or a tnsnames.ora -> the text of a manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provisioner._lazy import exports
from provisioner.importers._args import add_import_arguments

if TYPE_CHECKING:  # the conversion, imported when an import runs (see provisioner._lazy)
    from provisioner.importers._convert import convert_inventory

__getattr__ = exports(__name__, {"convert_inventory": "._convert"})

__all__ = [
    "add_import_arguments",
    "convert_inventory",
]
