"""The exceptions infoscope raises for its users to catch, beside Python's own ``ValueError``
and ``TypeError`` for bad arguments."""

from __future__ import annotations

__all__ = ["MemoryBudgetError", "StoreError"]


class MemoryBudgetError(ValueError):
    """A measurement would need more memory than the configured budget; the message says how
    much, where, and what to change."""


class StoreError(RuntimeError):
    """The database cannot be used: not SQLite, a newer schema, locked, or a missing run."""
