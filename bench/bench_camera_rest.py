"""Benchmark: a camera that rests -- reader CPU per second of video, resting vs decoding every frame.

Usage: python bench/bench_camera_rest.py [--quick | --smoke] [--seconds S]

The real barcode reader (edge_agent.readers.barcode.reader.BarcodeReader: cv2 reading an MJPG file, the rest
detector, zxing-cpp restricted to the kiosk's formats, the scan gate) plays generated videos
(simulators.camera.write_scan_video, 640x480 @ 15 fps) as fast as it can in this thread, with one OpenCV
thread as on the agent. CPU is this thread's time.thread_time(), best of 3 (--smoke: 1), alternating resting
and decode-every-frame runs so load from other processes hits both alike. The ceiling, same run, is the same
reader with rest off. Two figures per scene: the whole reader (capture included: the JPEG decode of each frame
is paid either way) and the part rest decides about (detector + decoder: the whole reader minus a capture-only
pass over the same file).

Scenes: an empty counter; products held in view (by hand: each frame adds hand shake and sensor noise, as the
simulator draws it); and the scan videos at the decoder bench's sizes and scenes (bench_decoders.py: 640x480
and 1280x720, clean and degraded), where the figure is the scans read, resting and not, which must be equal.
Target: resting <= 30 % of the decode-every-frame CPU on an empty scene. Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path
import cv2

from edge_agent.readers.barcode.decoders import make_decoder
from edge_agent.readers.barcode.frames import VideoCaptureSource
from edge_agent.readers.barcode.reader import BarcodeReader, ScanGate
from edge_agent.readers.barcode.rest import RestDetector
from edge_agent.readers.events import ProductScanned, ReaderEvent
from simulators.camera import DEFAULT_FPS, DEMO_CODES, Degrade, FrameSize, demo_script, write_scan_video

TARGET_EMPTY_RATIO = 0.30
REPEATS = 3
FORMATS = ["ean13", "upca", "ean8"]
DEBOUNCE_S = 0.5
DECODER_BENCH_SIZES: tuple[FrameSize, ...] = ((640, 480), (1280, 720))
DECODER_BENCH_SCENES: tuple[Degrade, ...] = ("clean", "degraded")
HOLD, GAP = 10, 8
"""The memory bench's demo script: each code held 10 frames, 8 empty frames between."""


def read(video: Path, rest: RestDetector | None) -> tuple[float, list[str], int]:
    """(CPU s of this thread, scans read, frames decoded) of one pass of the real reader over the file."""
    scans: list[str] = []
    holder: list[BarcodeReader] = []

    def emit(event: ReaderEvent) -> None:
        if isinstance(event, ProductScanned):
            scans.append(event.gtin14)

    reader = BarcodeReader(
        lambda: VideoCaptureSource(str(video), pace=False),
        make_decoder("zxing", FORMATS),
        emit,
        ScanGate(DEBOUNCE_S, 2, 3),
        rest=rest,
        clock=lambda: holder[0].frames_read / DEFAULT_FPS,  # the video's clock: debounce as when paced
    )
    holder.append(reader)
    start = time.thread_time()
    reader.run(threading.Event())
    return time.thread_time() - start, scans, reader.frames_decoded


def capture_only(video: Path) -> float:
    start = time.thread_time()
    with VideoCaptureSource(str(video), pace=False) as source:
        while source.read() is not None:
            pass
    return time.thread_time() - start


def best(repeats: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s scenes")
    parser.add_argument("--smoke", action="store_true", help="1 s scenes, one repeat, one code per decoder scene")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per scene (default 30)")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    seconds = args.seconds or (1.0 if args.smoke else 10.0 if args.quick else 30.0)
    repeats = 1 if args.smoke else REPEATS
    frames = max(4, int(seconds * DEFAULT_FPS))
    cv2.setNumThreads(1)
    workdir = Path(tempfile.mkdtemp(prefix="bench-camera-rest-"))
    print(f"# A camera that rests: reader CPU per second of video, {seconds:g} s scenes, best of {repeats}\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, OpenCV {cv2.__version__}, one OpenCV thread\n")
    try:
        hold = max(4, frames // 3)
        scenes = {
            "empty counter": [(None, frames)],
            "one product held in view": [(DEMO_CODES[0], frames)],
            "products shown in turn (hold 10, gap 8)": demo_script(DEMO_CODES, HOLD, GAP)
            * max(1, frames // sum(n for _, n in demo_script(DEMO_CODES, HOLD, GAP))),
            "long holds (1/3 held, 1/3 empty, 1/3 held)": [(DEMO_CODES[1], hold), (None, hold), (DEMO_CODES[2], hold)],
        }
        rows = []
        for name, script in scenes.items():
            video = write_scan_video(workdir / "scene.avi", script, seed=11)
            length_s = sum(n for _, n in script) / DEFAULT_FPS
            every = best(repeats, lambda v=video: read(v, None)[0])  # type: ignore[misc]
            resting = best(repeats, lambda v=video: read(v, RestDetector())[0])  # type: ignore[misc]
            capture = best(repeats, lambda v=video: capture_only(v))  # type: ignore[misc]
            _, scans_every, decoded_every = read(video, None)
            _, scans_rest, decoded_rest = read(video, RestDetector())
            rows.append(
                [
                    name,
                    f"{1000 * resting / length_s:.0f}",
                    f"{1000 * every / length_s:.0f}",
                    c.ratio(resting, every),
                    c.ratio(max(resting - capture, 0.0), max(every - capture, 1e-9)),
                    f"{decoded_rest} / {decoded_every}",
                    "same" if scans_rest == scans_every else f"DIFFER {len(scans_rest)} vs {len(scans_every)}",
                    f"<= {TARGET_EMPTY_RATIO:.0%}" if name == "empty counter" else "",
                ]
            )
        headers = [
            "scene",
            "resting CPU ms/s",
            "every frame CPU ms/s",
            "ratio (whole reader)",
            "ratio (detector + decoder)",
            "frames decoded",
            "scans",
            "target",
        ]
        print(c.md_table(headers, rows))
        print()
        scan_rows = []
        for size in DECODER_BENCH_SIZES:
            for scene in DECODER_BENCH_SCENES:
                script = demo_script(DEMO_CODES[:1] if args.smoke else DEMO_CODES, HOLD, GAP)
                video = write_scan_video(workdir / "decoder.avi", script, size=size, seed=5, degrade=scene)
                _, scans_every, decoded_every = read(video, None)
                _, scans_rest, decoded_rest = read(video, RestDetector())
                scan_rows.append(
                    [
                        f"{size[0]}x{size[1]}",
                        scene,
                        len([code for code, _ in script if code]),
                        len(scans_rest),
                        len(scans_every),
                        "yes" if scans_rest == scans_every else "NO",
                        f"{decoded_rest} / {decoded_every}",
                    ]
                )
        print("Scans read on the decoder bench's sizes and scenes (demo script, hold 10 / gap 8):\n")
        print(
            c.md_table(
                ["frame", "scene", "codes shown", "scans resting", "scans every frame", "same", "frames decoded"],
                scan_rows,
            )
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
