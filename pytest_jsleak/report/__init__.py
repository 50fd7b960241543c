"""Reports of leak checks: text for the terminal and pytest failures, JSON for machines."""

from __future__ import annotations
