"""Camera simulator and VideoCaptureSource: MJPG files written and read back through OpenCV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.readers.barcode.decoders import DecoderName, GrayImage, make_decoder
from edge_agent.readers.barcode.frames import FrameSource, FrameSourceError, VideoCaptureSource
from simulators.camera import (
    DEMO_CODES,
    corrupt_video,
    demo_script,
    format_for,
    main,
    render_frame,
    write_scan_video,
)

FPS = 15
SCRIPT: list[tuple[str | None, int]] = [(None, 3), (DEMO_CODES[0], 4), (None, 2), (DEMO_CODES[1], 4)]
TOTAL_FRAMES = sum(n for _, n in SCRIPT)
DECODERS: tuple[DecoderName, ...] = ("zxing", "pyzbar")


def read_all(source: FrameSource) -> list[GrayImage]:
    frames = []
    while (gray := source.read()) is not None:
        frames.append(gray)
    return frames


@pytest.fixture(scope="module")
def scan_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scan_video(tmp_path_factory.mktemp("video") / "scan.avi", SCRIPT, fps=FPS, seed=3)


def test_demo_codes_are_distinct_valid_ean13() -> None:
    assert len(set(DEMO_CODES)) == len(DEMO_CODES) >= 5
    for code in DEMO_CODES:
        assert len(code) == 13
        assert normalise_gtin(code) == "0" + code


@pytest.mark.parametrize(("size", "shape"), [((640, 480), (480, 640)), ((1280, 720), (720, 1280))])
@pytest.mark.parametrize("degrade", ["clean", "degraded"])
def test_render_frame_is_gray_and_deterministic(size: tuple[int, int], shape: tuple[int, int], degrade: str) -> None:
    def render(seed: int) -> GrayImage:
        return render_frame(DEMO_CODES[0], "ean13", np.random.default_rng(seed), size, degrade)  # type: ignore[arg-type]

    first = render(1)
    assert first.shape == shape
    assert first.dtype == np.uint8
    assert np.array_equal(first, render(1))
    assert not np.array_equal(first, render(2))


def test_render_frame_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="pdf417"):
        render_frame("x", "pdf417", np.random.default_rng(0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "fmt"),
    [
        ("4006381333931", "ean13"),
        ("036000291452", "upca"),
        ("96385074", "ean8"),
        ("https://id.gs1.org/01/04006381333931", "qr"),
        ("EDGE-42", "code128"),
        ("12345", "code128"),
    ],
)
def test_format_for(code: str, fmt: str) -> None:
    assert format_for(code) == fmt


def test_video_reads_back_frame_by_frame(scan_video: Path) -> None:
    with VideoCaptureSource(scan_video) as source:
        assert source.fps == FPS
        frames = read_all(source)
        assert source.read() is None  # stays ended
        assert source.frames_read == TOTAL_FRAMES
        assert source.unreadable_frames == 0
    assert len(frames) == TOTAL_FRAMES
    assert all(f.shape == (480, 640) and f.dtype == np.uint8 for f in frames)


@pytest.mark.parametrize("name", DECODERS)
def test_decoders_find_codes_in_held_frames_only(scan_video: Path, name: DecoderName) -> None:
    decoder = make_decoder(name, ["ean13"])
    with VideoCaptureSource(scan_video) as source:
        frames = read_all(source)
    expected = [code for code, n in SCRIPT for _ in range(n)]
    found = [[s.text for s in decoder.decode(gray)] for gray in frames]
    assert found == [[] if code is None else [code] for code in expected]


def test_reused_grey_buffer_gives_the_same_frames_and_scans(scan_video: Path) -> None:
    """``reuse_gray``: each frame is converted into the last one's buffer, so a caller done with a frame before
    the next read (the agent's reader) sees the same pixels and decodes the same codes as with fresh frames."""
    decoder = make_decoder("zxing", ["ean13"])
    with VideoCaptureSource(scan_video, reuse_gray=True) as reused, VideoCaptureSource(scan_video) as fresh:
        found, buffers = [], set()
        while (gray := reused.read()) is not None:
            expected = fresh.read()
            assert expected is not None and np.array_equal(gray, expected)
            buffers.add(gray.__array_interface__["data"][0])
            found.append([s.text for s in decoder.decode(gray)])
        assert fresh.read() is None
    assert found == [[] if code is None else [code] for code, n in SCRIPT for _ in range(n)]
    assert len(buffers) == 1  # one grey buffer for the whole video


def test_same_seed_same_video(scan_video: Path, tmp_path: Path) -> None:
    again = write_scan_video(tmp_path / "again.avi", SCRIPT, fps=FPS, seed=3)
    other = write_scan_video(tmp_path / "other.avi", SCRIPT, fps=FPS, seed=4)
    with VideoCaptureSource(scan_video) as a, VideoCaptureSource(again) as b, VideoCaptureSource(other) as c:
        first, second, third = read_all(a), read_all(b), read_all(c)
    assert all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))
    assert not all(np.array_equal(x, z) for x, z in zip(first, third, strict=True))


def test_garbage_frames_are_counted_not_fatal(scan_video: Path, tmp_path: Path) -> None:
    garbage = (1, 5, 6)
    broken = corrupt_video(scan_video, tmp_path / "garbage.avi", garbage_frames=garbage)
    with VideoCaptureSource(broken) as source:
        frames = read_all(source)
        assert source.unreadable_frames == len(garbage)
        assert source.frames_read == len(frames) == TOTAL_FRAMES - len(garbage)


def test_truncated_video_ends_with_none(scan_video: Path, tmp_path: Path) -> None:
    broken = corrupt_video(scan_video, tmp_path / "truncated.avi", keep_fraction=0.5)
    with VideoCaptureSource(broken) as source:
        frames = read_all(source)
        assert source.read() is None
    assert 0 < len(frames) < TOTAL_FRAMES


def test_paced_playback_yields_every_frame(tmp_path: Path) -> None:
    fast = write_scan_video(tmp_path / "fast.avi", [(DEMO_CODES[2], 3)], fps=500)
    with VideoCaptureSource(fast, pace=True) as source:
        assert len(read_all(source)) == 3


def test_closed_source_reads_none(scan_video: Path) -> None:
    source = VideoCaptureSource(scan_video)
    source.close()
    assert source.read() is None


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-video.avi"
    with pytest.raises(FrameSourceError, match=r"no-such-video\.avi") as info:
        VideoCaptureSource(missing)
    assert isinstance(info.value, OSError)


def test_missing_camera_index_raises() -> None:
    with pytest.raises(FrameSourceError, match="camera 99"):
        VideoCaptureSource(99)


def test_cli_writes_the_demo_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.avi"
    codes = DEMO_CODES[:2]
    assert main(["--out", str(out), "--codes", ",".join(codes), "--hold", "3", "--gap", "2", "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed
    assert all(code in printed for code in codes)
    script = demo_script(codes, hold=3, gap=2)
    with VideoCaptureSource(out) as source:
        assert len(read_all(source)) == sum(n for _, n in script) == 2 + (3 + 2) * 2
