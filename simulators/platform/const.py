"""Limits of the platform's apply path, with their reasons."""

from __future__ import annotations

from typing import Final

from edge_agent.contract.cart import MAX_WATERMARK_GAPS

MAX_EPOCHS_PER_WATERMARK: Final = 64
"""Epochs of one device listed in its watermark: a device starts a new epoch only when its database is recreated,
so more than a handful means a broken device; the newest ones still fit in one message."""

MAX_GAPS_PER_EPOCH: Final = MAX_WATERMARK_GAPS
"""Seqs above the contiguous mark listed per epoch: the contract's own bound (AppliedWatermark)."""
