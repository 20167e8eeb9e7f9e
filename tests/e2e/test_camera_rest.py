"""A resting camera reads the same scans as one that decodes every frame, on the project's generated videos.

The reader runs for real (cv2 reading the MJPG file, zxing-cpp, the scan gate); only its clock is the video's
own (frame number / fps), so debounce depends on the video, not on how loaded the machine is.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from edge_agent.readers.barcode.decoders import make_decoder
from edge_agent.readers.barcode.frames import VideoCaptureSource
from edge_agent.readers.barcode.reader import BarcodeReader, ScanGate
from edge_agent.readers.barcode.rest import RestDetector
from edge_agent.readers.events import ProductScanned, ReaderEvent
from simulators.camera import DEMO_CODES, demo_script, write_scan_video

Script = list[tuple[str | None, int]]
VIDEOS: dict[str, tuple[Script, float, int, float]] = {
    # name: (script, fps, seed, debounce_s), as the tests and benches that write them
    "spine": (
        [(code, n) for c in (0, 1, 2, 0) for code, n in ((DEMO_CODES[c], 8), (None, 12))],
        15,
        7,
        0.5,
    ),
    "memory_bench": (demo_script(DEMO_CODES, 10, 8), 15, 0, 0.5),
    "burst": ([(c, 4) for c in DEMO_CODES], 30, 3, 2.0),
    "long_holds": ([(None, 40), (DEMO_CODES[3], 60), (None, 40), (DEMO_CODES[4], 60), (None, 20)], 15, 5, 2.0),
}


def read_scans(video: Path, fps: float, debounce_s: float, rest: RestDetector | None) -> list[tuple[str, int]]:
    """(gtin14, frame it was emitted on) of every scan in the video."""
    scans: list[tuple[str, int]] = []
    holder: list[BarcodeReader] = []

    def emit(event: ReaderEvent) -> None:
        if isinstance(event, ProductScanned):
            scans.append((event.gtin14, holder[0].frames_read))

    reader = BarcodeReader(
        lambda: VideoCaptureSource(str(video), pace=False),
        make_decoder("zxing", ["ean13", "upca", "ean8"]),
        emit,
        ScanGate(debounce_s, 2, 3),
        rest=rest,
        clock=lambda: holder[0].frames_read / fps,
    )
    holder.append(reader)
    reader.run(threading.Event())
    return scans


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_the_same_scans_are_read_with_the_camera_resting(tmp_path: Path, name: str) -> None:
    script, fps, seed, debounce_s = VIDEOS[name]
    video = write_scan_video(tmp_path / f"{name}.avi", script, fps=fps, seed=seed)
    every_frame = read_scans(video, fps, debounce_s, None)
    rest = RestDetector()
    resting = read_scans(video, fps, debounce_s, rest)
    assert [code for code, _ in every_frame] == ["0" + c for c, _ in script if c]
    assert resting == every_frame


def test_an_empty_scene_is_mostly_not_decoded(tmp_path: Path) -> None:
    video = write_scan_video(tmp_path / "empty.avi", [(None, 90)], fps=15, seed=1)
    rest = RestDetector()
    assert read_scans(video, 15, 2.0, rest) == []
    decoded = 90 - rest.skipped_total
    # The first frame, the settling frames, then one in every max_skipped + 1.
    assert decoded <= 1 + rest.settle_frames + 90 // (rest.max_skipped + 1)
