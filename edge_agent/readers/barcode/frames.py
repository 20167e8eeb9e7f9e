"""Grayscale frame sources for the barcode reader: V4L2 cameras and video files.

``cv2.VideoCapture`` never raises: a missing camera gives ``isOpened() == False``
and a bad frame gives ``read() == (False, None)``. This module turns the first
into an exception at start-up and the second into a counter, so one corrupt
MJPEG frame from a flaky USB camera cannot stop the reader.
"""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import Final, Protocol, Self

import cv2
import numpy as np
from numpy.typing import NDArray

GrayFrame = NDArray[np.uint8]

DEVICE_PREFIX: Final = "/dev/"
"""Paths under /dev (``/dev/video0``, ``/dev/v4l/by-id/...``) are cameras, anything else a file."""

MAX_CONSECUTIVE_FAILURES: Final = 10
"""A corrupt MJPEG frame fails one read and the next succeeds; ten failures in a row (a third
of a second at 30 fps) means end of file or an unplugged camera, so the stream ends."""

FALLBACK_FPS: Final = 30.0
"""Some V4L2 drivers and containers report 0 fps; 30 is the usual UVC default."""

MJPG_FOURCC: Final = cv2.VideoWriter.fourcc(*"MJPG")
"""YUYV at 720p/1080p exceeds USB 2 bandwidth and drops to ~5 fps; MJPG keeps the full rate."""


class FrameSourceError(OSError):
    """The frame source could not be opened."""


class FrameSource(Protocol):
    """Anything that yields grayscale frames; ``read`` returns None once the stream has ended."""

    @property
    def fps(self) -> float: ...

    def read(self) -> GrayFrame | None: ...

    def close(self) -> None: ...


def _is_device(source: int | str | os.PathLike[str]) -> bool:
    return isinstance(source, int) or os.fspath(source).startswith(DEVICE_PREFIX)


class VideoCaptureSource:
    """A ``cv2.VideoCapture`` on a device index, a ``/dev`` path or a video file.

    The constructor opens the capture and raises FrameSourceError if that fails.
    ``pace=True`` (files only) sleeps so that frames come out at the file's frame
    rate, which makes a recorded scan behave like a live camera in the demo.
    ``reuse_gray=True`` converts each colour frame into the last grey frame's buffer, so a returned frame is
    valid only until the next ``read``: for a caller that is done with a frame before it asks for the next one
    (the agent's reader). It saves a 0.3 MB allocation per 640x480 frame and ~0.4 MB of the reader thread's
    malloc arena, which that churn kept (docs/benchmarks.md, branch ``rss``). A caller that keeps frames leaves it
    off.
    """

    def __init__(
        self,
        source: int | str | os.PathLike[str],
        *,
        pace: bool = False,
        size: tuple[int, int] | None = None,
        reuse_gray: bool = False,
    ) -> None:
        self.source = source
        self.reuse_gray = reuse_gray
        self.is_device = _is_device(source)
        self.pace = pace and not self.is_device  # a camera paces itself
        self.frames_read = 0
        self.unreadable_frames = 0
        """Failed reads followed by a good one: corrupt frames, not the end of the stream."""
        self._pending_failures = 0
        self._ended = False
        self._next_due: float | None = None
        self._bgr: NDArray[np.uint8] | None = None
        """The decoded colour frame, read into again and again (no 0.9 MB allocation per 640x480 frame): only
        its grey copy leaves this object. A camera that delivers grey frames already gets no reuse, since such
        a frame is itself what leaves."""
        self._gray: GrayFrame | None = None
        """With ``reuse_gray``: the grey frame returned last, converted into again by the next read."""
        if isinstance(source, int):
            self._capture = cv2.VideoCapture(source, cv2.CAP_V4L2)
        elif self.is_device:
            self._capture = cv2.VideoCapture(os.fspath(source), cv2.CAP_V4L2)
        else:
            self._capture = cv2.VideoCapture(os.fspath(source))
        if not self._capture.isOpened():
            self._capture.release()
            kind = "camera" if self.is_device else "video file"
            raise FrameSourceError(f"cannot open {kind} {source!r}")
        if self.is_device:
            # FOURCC first: the driver picks the resolutions it offers for the chosen pixel format.
            self._capture.set(cv2.CAP_PROP_FOURCC, MJPG_FOURCC)
            if size is not None:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        reported = float(self._capture.get(cv2.CAP_PROP_FPS))
        self._fps = reported if reported > 0 else FALLBACK_FPS

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> GrayFrame | None:
        """Next grayscale frame, or None once the stream has ended (and on every call after)."""
        while not self._ended:
            ok, frame = self._capture.read(self._bgr)
            if not ok or frame is None:
                self._pending_failures += 1
                if self._pending_failures >= MAX_CONSECUTIVE_FAILURES:
                    self._ended = True
                continue
            self.unreadable_frames += self._pending_failures
            self._pending_failures = 0
            image = np.asarray(frame, dtype=np.uint8)  # already uint8: the same array, no copy
            self._bgr = image if image.ndim == 3 else None
            self.frames_read += 1
            self._wait_for_frame_time()
            return self._to_gray(image)
        return None

    def _wait_for_frame_time(self) -> None:
        if not self.pace:
            return
        now = time.monotonic()
        due = now if self._next_due is None else self._next_due
        if due > now:
            time.sleep(due - now)
        self._next_due = max(due, now) + 1.0 / self._fps

    def _to_gray(self, frame: NDArray[np.uint8]) -> GrayFrame:
        if frame.ndim == 2:
            return frame
        gray = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=self._gray), dtype=np.uint8)
        if self.reuse_gray:
            self._gray = gray  # cvtColor writes into it next time when the size still fits, else allocates anew
        return gray

    def close(self) -> None:
        self._ended = True
        self._capture.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
