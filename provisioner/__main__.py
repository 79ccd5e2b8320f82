"""``python -m provisioner`` -> ``cli.run()``."""

from __future__ import annotations

from provisioner.cli import run

run()
