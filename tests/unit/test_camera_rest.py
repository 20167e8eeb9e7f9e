"""The camera's change detector (readers/barcode/rest.py): properties over any sequence of frames."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.readers.barcode.rest import RestDetector, downscale, mean_abs_diff

SHAPE = (48, 64)
FACTOR = 8


def frame(level: int, noise_seed: int, noise: int = 1) -> np.ndarray:
    rng = np.random.default_rng(noise_seed)
    base = np.full(SHAPE, level, dtype=np.int16) + rng.integers(-noise, noise + 1, SHAPE)
    return np.clip(base, 0, 255).astype(np.uint8)


# A scene is a sequence of (grey level, noise seed): equal levels are the same view with fresh sensor noise.
scenes = st.lists(st.tuples(st.sampled_from([40, 41, 120, 200]), st.integers(0, 2**16)), min_size=1, max_size=80)


@given(scenes)
def test_every_change_is_decoded_and_rest_never_skips_more_than_max_skipped(scene: list[tuple[int, int]]) -> None:
    rest = RestDetector(factor=FACTOR)
    decisions = [rest.should_decode(frame(level, seed)) for level, seed in scene]
    assert decisions[0]  # nothing to compare the first frame with
    run = 0
    for decided in decisions:
        run = 0 if decided else run + 1
        assert run <= rest.max_skipped
    last_decoded = scene[0][0]
    for (level, _), decided in zip(scene, decisions, strict=True):
        if abs(level - last_decoded) > rest.threshold:  # the view changed since the last decoded frame
            assert decided
        if decided:
            last_decoded = level
    assert rest.skipped_total == decisions.count(False)


@given(st.integers(0, 2**16), st.integers(20, 80))
def test_a_still_scene_settles_then_rests(seed: int, length: int) -> None:
    rest = RestDetector(factor=FACTOR)
    decisions = [rest.should_decode(frame(90, seed + i)) for i in range(length)]
    assert decisions[: 1 + rest.settle_frames] == [True] * (1 + rest.settle_frames)
    cycle = rest.max_skipped + 1
    assert decisions.count(True) == 1 + rest.settle_frames + (length - 1 - rest.settle_frames) // cycle


def test_the_difference_is_measured_on_the_downscaled_frame() -> None:
    a, b = frame(10, 1, noise=0), frame(13, 1, noise=0)
    assert downscale(a, FACTOR).shape == (SHAPE[0] // FACTOR, SHAPE[1] // FACTOR)
    assert mean_abs_diff(downscale(a, FACTOR), downscale(b, FACTOR)) == 3.0
