"""Tuning of the camera's rest (rest.py), each figure with where it comes from."""

from __future__ import annotations

from typing import Final

REST_DOWNSCALE: Final = 8
"""The change detector looks at a 1/8-size frame (80x60 from 640x480): area averaging brings the sensor noise
down to about 0.4 grey levels mean absolute difference, and resizing costs ~0.14 ms where decoding an empty
640x480 frame costs ~2 ms (bench/bench_camera_rest.py)."""

REST_MAD_THRESHOLD: Final = 2.0
"""Mean absolute difference, in grey levels of the downscaled frame, above which the view changed. An empty
scene's frame-to-frame noise is ~0.45; a hand bringing a product in is ~30, and a product held by hand
shakes at 1.5-12. Five times the noise floor keeps auto-exposure flicker from waking the decoder."""

REST_SETTLE_FRAMES: Final = 3
"""After a change, this many still frames are decoded anyway: the scan gate needs a code in 2 of the last 3
decoded frames (confirm_frames / confirm_window defaults), so a product put down still is confirmed at once
rather than after the next forced decode."""

REST_MAX_SKIPPED_FRAMES: Final = 8
"""At rest, a frame is still decoded after this many skipped ones (~0.5 s at 15 fps): a code held perfectly
still is re-read well within the 2 s debounce, so it is neither lost nor counted again."""
