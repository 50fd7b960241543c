"""Drivers: how each kind of target is driven (see `base.py` for the interface)."""

from __future__ import annotations

from pytest_jsleak.drivers.base import Driver, Phase

__all__ = ["Driver", "Phase"]
