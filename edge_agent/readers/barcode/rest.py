"""A camera that rests: decode a frame only when the view changed since the last decoded one.

Most of a kiosk's day the camera sees an empty counter, and decoding each of those frames is the reader's main
CPU cost on a Pi. A change detector on a downscaled grey frame (mean absolute difference against the last
decoded frame) costs a small fraction of a decode, so frames that show nothing new are skipped. Decoding resumes
on the first changed frame, continues while the view settles, and at rest a frame is still decoded every few
frames so a code held perfectly still is re-read (constants and their reasons in const.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_agent.readers.barcode.const import (
    REST_DOWNSCALE,
    REST_MAD_THRESHOLD,
    REST_MAX_SKIPPED_FRAMES,
    REST_SETTLE_FRAMES,
)

GrayImage = NDArray[np.uint8]


def downscale(gray: GrayImage, factor: int) -> GrayImage:
    """Area-averaged 1/factor frame: averaging is what brings sensor noise below the threshold."""
    height, width = gray.shape[:2]
    size = (max(1, width // factor), max(1, height // factor))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def mean_abs_diff(a: GrayImage, b: GrayImage) -> float:
    """Mean absolute difference in grey levels (0..255) of two frames of one shape."""
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size


@dataclass
class RestDetector:
    """Says, frame by frame, whether the decoder should look at it."""

    threshold: float = REST_MAD_THRESHOLD
    factor: int = REST_DOWNSCALE
    settle_frames: int = REST_SETTLE_FRAMES
    max_skipped: int = REST_MAX_SKIPPED_FRAMES
    skipped_total: int = 0
    _reference: GrayImage | None = field(default=None, init=False, repr=False)
    """The downscaled last decoded frame: drift accumulates against it until it counts as a change."""
    _settling: int = field(default=0, init=False)
    _skipped: int = field(default=0, init=False)

    def should_decode(self, gray: GrayImage) -> bool:
        small = downscale(gray, self.factor)
        reference = self._reference
        if reference is None or reference.shape != small.shape or mean_abs_diff(small, reference) > self.threshold:
            self._settling = self.settle_frames
        elif self._settling > 0:
            self._settling -= 1
        elif self._skipped < self.max_skipped:
            self._skipped += 1
            self.skipped_total += 1
            return False
        self._reference = small
        self._skipped = 0
        return True
