"""``provisioner import``: an inventory CSV or a tnsnames.ora -> the text of a manifest."""

from __future__ import annotations

from provisioner.importers._convert import add_import_arguments, convert_inventory

__all__ = [
    "add_import_arguments",
    "convert_inventory",
]
