"""Camera simulator: renders barcodes into realistic frames and writes scan videos.

CI has no camera, so reader tests and the demo play MJPG files generated here
from a fixed seed (never committed). Bare symbols on white fool some decoders
into looking better than they are, so each frame has a textured background,
uneven lighting, a slight perspective, blur, sensor noise and JPEG artefacts.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

from edge_agent.readers.barcode.decoders import ZXING_FORMATS, FormatName

Degrade = Literal["clean", "degraded"]
FrameSize = tuple[int, int]
"""(width, height), the order OpenCV uses for sizes."""
GrayImage = NDArray[np.uint8]

DEMO_CODES: Final = (
    "4006381333931",  # GS1's own EAN-13 example (prefix 400, Germany)
    "5012345678900",  # the remaining four are fictional but check-digit valid: 501 UK,
    "5901234123457",  # 590 Poland,
    "8710398502131",  # 871 Netherlands,
    "7612345678900",  # 761 Switzerland (no 02x/2xx RCN or 978 ISBN prefixes on purpose)
)

DEFAULT_SIZE: Final[FrameSize] = (640, 480)
DEFAULT_FPS: Final = 15
"""Half a typical UVC rate: enough for 2-of-3 frame voting, and quick to render in tests."""
MJPG: Final = "MJPG"
"""Every frame a keyframe (exact seeks, like UVC cameras); the wheels cannot write H.264."""

EAN13_DIGITS: Final = 13
UPCA_DIGITS: Final = 12
EAN8_DIGITS: Final = 8
URI_PREFIXES: Final = ("http://", "https://")
APP_CODE_PREFIXES: Final = ("EA2.", "EA1.")
"""A shopper app's identity code (edge_agent.identity.tokens) is shown as a QR on the phone's screen."""

LABEL_MARGIN_MODULES: Final = 3
"""Extra paper around zxing's quiet zone, so the label edge never eats into it."""
BACKGROUND_LEVEL: Final = (90.0, 160.0)
"""Mean gray of shelf/hand/counter behind the label."""
BACKGROUND_TEXTURE: Final = 25.0
"""Std-dev of the low-frequency blotches that stand in for clutter."""
TEXTURE_CELLS: Final = (12, 9)
"""Grid of random values upscaled into blotches (about 50 px each at 640x480)."""
HAND_SHAKE: Final = 0.004
"""Per-frame jitter of the label centre, as a fraction of the frame width (a few px)."""
MAX_GRAY: Final = 255
MAX_LABEL_FRACTION: Final = 0.9
"""Largest label extent relative to the frame: a code cut off at the edge is not a clean shot."""


@dataclass(frozen=True, slots=True)
class Degradation:
    """Ranges each ShotPlan is drawn from."""

    max_rotation_deg: float
    corner_jitter: float
    """Max corner displacement (fraction of label width): perspective from a non-square view."""
    linear_width: tuple[float, float]
    """1-D label width as a fraction of frame width."""
    matrix_height: tuple[float, float]
    """2-D label height as a fraction of frame height."""
    blur_sigma: tuple[float, float]
    noise_sigma: tuple[float, float]
    ink: tuple[float, float]
    paper: tuple[float, float]
    lighting: tuple[float, float]
    """Illumination gain at the dark and bright ends of the gradient."""
    jpeg_quality: int


DEGRADATIONS: Final[dict[Degrade, Degradation]] = {
    # Clean: a cooperative shopper holding the pack square to the camera at 20-30 cm.
    "clean": Degradation(
        max_rotation_deg=3.0,
        corner_jitter=0.03,
        linear_width=(0.5, 0.65),
        matrix_height=(0.3, 0.45),
        blur_sigma=(0.4, 0.8),
        noise_sigma=(2.0, 4.0),
        ink=(25.0, 55.0),
        paper=(200.0, 235.0),
        lighting=(0.8, 1.05),
        jpeg_quality=85,
    ),
    # Degraded: tilted, further away, slightly out of focus, dim shop lighting (more sensor noise).
    "degraded": Degradation(
        max_rotation_deg=15.0,
        corner_jitter=0.08,
        linear_width=(0.4, 0.55),
        matrix_height=(0.25, 0.4),
        blur_sigma=(1.0, 1.4),
        noise_sigma=(6.0, 10.0),
        ink=(45.0, 85.0),
        paper=(170.0, 215.0),
        lighting=(0.65, 1.05),
        jpeg_quality=60,
    ),
}


@dataclass(frozen=True, slots=True)
class ShotPlan:
    """One camera shot, drawn at random so that a seed reproduces a frame exactly."""

    centre: tuple[float, float]
    """Label centre as fractions of frame width and height (clamped so the label fits)."""
    scale: float
    """Label width (1-D) or height (2-D) as a fraction of the frame width or height."""
    rotation_deg: float
    corners: tuple[tuple[float, float], ...]
    """Per-corner displacement, fraction of label width: the perspective warp."""
    blur_sigma: float
    noise_sigma: float
    ink: float
    paper: float
    light_angle: float
    light_gain: tuple[float, float]
    jpeg_quality: int

    @classmethod
    def draw(cls, rng: np.random.Generator, fmt: FormatName, degrade: Degrade = "clean") -> ShotPlan:
        d = DEGRADATIONS[degrade]
        jitter = rng.uniform(-d.corner_jitter, d.corner_jitter, size=(4, 2))
        return cls(
            centre=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
            scale=float(rng.uniform(*(d.matrix_height if _is_matrix(fmt) else d.linear_width))),
            rotation_deg=float(rng.uniform(-d.max_rotation_deg, d.max_rotation_deg)),
            corners=tuple((float(x), float(y)) for x, y in jitter),
            blur_sigma=float(rng.uniform(*d.blur_sigma)),
            noise_sigma=float(rng.uniform(*d.noise_sigma)),
            ink=float(rng.uniform(*d.ink)),
            paper=float(rng.uniform(*d.paper)),
            light_angle=float(rng.uniform(0.0, 2 * math.pi)),
            light_gain=d.lighting,
            jpeg_quality=d.jpeg_quality,
        )

    def shaken(self, rng: np.random.Generator) -> ShotPlan:
        """The same shot one frame later: a hand-held pack drifts by a few pixels."""
        dx, dy = rng.normal(0.0, HAND_SHAKE, size=2)
        return replace(self, centre=(self.centre[0] + float(dx), self.centre[1] + float(dy)))


def _is_matrix(fmt: FormatName) -> bool:
    return fmt in ("qr", "datamatrix")


def format_for(code: str) -> FormatName:
    """Symbology a script code is printed in: GTIN digits by length, URIs and app codes as QR, else Code 128."""
    if code.isascii() and code.isdigit():
        by_length: dict[int, FormatName] = {EAN13_DIGITS: "ean13", UPCA_DIGITS: "upca", EAN8_DIGITS: "ean8"}
        if len(code) in by_length:
            return by_length[len(code)]
    if code.startswith(URI_PREFIXES + APP_CODE_PREFIXES):
        return "qr"
    return "code128"


def _symbol(code: str, fmt: FormatName, module_px: float) -> NDArray[np.float32]:
    """Symbol with quiet zones plus a paper margin, rendered near the target module size.

    Rendering close to the final size keeps the warp's down-sampling under 2x, where bilinear
    interpolation does not alias thin bars away.
    """
    scale = max(1, math.ceil(module_px))
    image = np.asarray(zxingcpp.create_barcode(code, ZXING_FORMATS[fmt]).to_image(scale=scale))
    margin = LABEL_MARGIN_MODULES * scale
    padded = cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=MAX_GRAY)
    return np.asarray(padded, dtype=np.float32) / np.float32(MAX_GRAY)


def _background(rng: np.random.Generator, size: FrameSize) -> NDArray[np.float32]:
    cells = rng.normal(rng.uniform(*BACKGROUND_LEVEL), BACKGROUND_TEXTURE, size=TEXTURE_CELLS[::-1])
    blotches = cv2.resize(cells.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    return np.asarray(blotches, dtype=np.float32)


def _fit_centre(centre: float, half_extent: float, frame_extent: int) -> float:
    """Clamp a label centre (in px) so the whole label stays in frame when it can."""
    if 2 * half_extent >= frame_extent:
        return frame_extent / 2
    return min(max(centre * frame_extent, half_extent), frame_extent - half_extent)


def _label_quad(plan: ShotPlan, target_wh: tuple[float, float], size: FrameSize) -> NDArray[np.float32]:
    """Frame coordinates of the label's four corners (clockwise from top-left)."""
    tw, th = target_wh
    local = np.array([[-tw / 2, -th / 2], [tw / 2, -th / 2], [tw / 2, th / 2], [-tw / 2, th / 2]])
    local += np.asarray(plan.corners) * tw
    angle = math.radians(plan.rotation_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    rotated = local @ np.array([[cos, sin], [-sin, cos]])
    half_w = float(np.abs(rotated[:, 0]).max())
    half_h = float(np.abs(rotated[:, 1]).max())
    cx = _fit_centre(plan.centre[0], half_w, size[0])
    cy = _fit_centre(plan.centre[1], half_h, size[1])
    return np.asarray(rotated + np.array([cx, cy]), dtype=np.float32)


def _place_label(
    frame: NDArray[np.float32], code: str, fmt: FormatName, plan: ShotPlan, size: FrameSize
) -> NDArray[np.float32]:
    unit = np.asarray(zxingcpp.create_barcode(code, ZXING_FORMATS[fmt]).to_image(scale=1))
    modules_h = unit.shape[0] + 2 * LABEL_MARGIN_MODULES
    modules_w = unit.shape[1] + 2 * LABEL_MARGIN_MODULES
    if _is_matrix(fmt):
        th = plan.scale * size[1]
        target_wh = (th * modules_w / modules_h, th)
    else:
        tw = plan.scale * size[0]
        target_wh = (tw, tw * modules_h / modules_w)
    # zxing-cpp may pick a rectangular Data Matrix (about 3:1); shrink whatever would not fit.
    fit = min(1.0, MAX_LABEL_FRACTION * size[0] / target_wh[0], MAX_LABEL_FRACTION * size[1] / target_wh[1])
    target_wh = (target_wh[0] * fit, target_wh[1] * fit)
    symbol = _symbol(code, fmt, target_wh[0] / modules_w)
    label = plan.ink + (plan.paper - plan.ink) * symbol
    h, w = symbol.shape
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(source, _label_quad(plan, target_wh, size))
    # Outside the label both warps are 0, so `warped` is already multiplied by the coverage `alpha`.
    warped = cv2.warpPerspective(label, warp, size, flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = cv2.warpPerspective(np.ones_like(label), warp, size, flags=cv2.INTER_LINEAR, borderValue=0)
    return np.asarray(frame * (1 - alpha) + warped, dtype=np.float32)


def _lighting(plan: ShotPlan, size: FrameSize) -> NDArray[np.float32]:
    """Linear illumination gradient across the frame, e.g. a shelf light on one side."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    along = (xs - w / 2) * math.cos(plan.light_angle) + (ys - h / 2) * math.sin(plan.light_angle)
    t = along / math.hypot(w / 2, h / 2) * 0.5 + 0.5
    low, high = plan.light_gain
    return np.asarray(low + (high - low) * t, dtype=np.float32)


def _expose(
    scene: NDArray[np.float32], plan: ShotPlan, rng: np.random.Generator, size: FrameSize, jpeg: bool
) -> GrayImage:
    """Camera pipeline after the optics: lighting, focus blur, sensor noise, 8-bit, JPEG."""
    lit = scene * _lighting(plan, size)
    blurred = cv2.GaussianBlur(lit, (0, 0), plan.blur_sigma)
    noisy = blurred + rng.normal(0.0, plan.noise_sigma, size=blurred.shape)
    image: GrayImage = np.clip(np.rint(noisy), 0, MAX_GRAY).astype(np.uint8)
    if not jpeg:
        return image
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, plan.jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded: GrayImage = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)
    return decoded


def _shot(
    code: str | None,
    fmt: FormatName,
    plan: ShotPlan,
    background: NDArray[np.float32],
    rng: np.random.Generator,
    jpeg: bool,
) -> GrayImage:
    size: FrameSize = (background.shape[1], background.shape[0])
    scene = background if code is None else _place_label(background, code, fmt, plan, size)
    return _expose(scene, plan, rng, size, jpeg)


def render_frame(
    code: str,
    fmt: FormatName,
    rng: np.random.Generator,
    size: FrameSize = DEFAULT_SIZE,
    degrade: Degrade = "clean",
) -> GrayImage:
    """One grayscale camera frame showing ``code`` printed as ``fmt``, JPEG round-tripped like UVC MJPG."""
    if fmt not in ZXING_FORMATS:
        raise ValueError(f"unknown barcode format {fmt!r}")
    plan = ShotPlan.draw(rng, fmt, degrade)
    return _shot(code, fmt, plan, _background(rng, size), rng, jpeg=True)


def write_scan_video(
    path: str | os.PathLike[str],
    script: Sequence[tuple[str | None, int]],
    fps: float = DEFAULT_FPS,
    size: FrameSize = DEFAULT_SIZE,
    seed: int = 0,
    degrade: Degrade = "clean",
) -> Path:
    """Write an MJPG .avi playing ``script``: (code, frames to hold), None for an empty scene.

    Each segment is one static scene (background, pose); every frame adds hand shake and fresh
    sensor noise. The writer's own MJPG encoding stands in for the JPEG round trip.
    """
    out = Path(path)
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(os.fspath(out), cv2.VideoWriter.fourcc(*MJPG), float(fps), size)
    if not writer.isOpened():
        raise OSError(f"cannot write {MJPG} video to {os.fspath(out)!r}")
    try:
        for code, frames in script:
            fmt = "ean13" if code is None else format_for(code)
            plan = ShotPlan.draw(rng, fmt, degrade)
            background = _background(rng, size)
            for _ in range(frames):
                gray = _shot(code, fmt, plan.shaken(rng), background, rng, jpeg=False)
                writer.write(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
    return out


RIFF_HEADER: Final = 12
"""``RIFF`` <size> ``AVI `` at the start of the file."""
CHUNK_HEADER: Final = 8
"""Four-byte chunk id plus little-endian 32-bit payload size."""
LIST_TYPE: Final = 4
"""A LIST chunk's payload starts with its four-byte type, e.g. ``movi``."""
AVI_LIST: Final = b"LIST"
AVI_MOVI: Final = b"movi"
AVI_VIDEO_CHUNK: Final = b"00dc"
"""Stream 0, compressed video: one JPEG per chunk in an MJPG AVI."""


def _chunk_at(data: bytes, pos: int) -> tuple[bytes, int, int]:
    """(id, payload size, offset of the next chunk); RIFF pads payloads to an even length."""
    size = int.from_bytes(data[pos + 4 : pos + CHUNK_HEADER], "little")
    return data[pos : pos + 4], size, pos + CHUNK_HEADER + size + (size & 1)


def _video_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each frame's JPEG payload inside the AVI ``movi`` list, in order."""
    pos, end = RIFF_HEADER, len(data)
    while pos + CHUNK_HEADER <= end:  # find the top-level LIST movi
        cid, size, following = _chunk_at(data, pos)
        if cid == AVI_LIST and data[pos + CHUNK_HEADER : pos + CHUNK_HEADER + LIST_TYPE] == AVI_MOVI:
            pos, end = pos + CHUNK_HEADER + LIST_TYPE, min(end, pos + CHUNK_HEADER + size)
            break
        pos = following
    else:
        raise ValueError("not an AVI file: no movi list")
    chunks = []
    while pos + CHUNK_HEADER <= end:
        cid, size, following = _chunk_at(data, pos)
        if cid == AVI_LIST:  # 'rec ' groups: descend into them
            pos += CHUNK_HEADER + LIST_TYPE
            continue
        if cid == AVI_VIDEO_CHUNK:
            chunks.append((pos + CHUNK_HEADER, size))
        pos = following
    return chunks


def corrupt_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    garbage_frames: Sequence[int] = (),
    keep_fraction: float = 1.0,
    seed: int = 0,
) -> Path:
    """Copy an MJPG AVI, overwriting the listed frames' JPEG data with noise and truncating it.

    Garbage frames keep their chunk sizes, so the container stays intact and only the decoder
    fails (``read()`` returns False for that frame alone); ``keep_fraction`` < 1 cuts the file
    short, as a recording interrupted by power loss would be.
    """
    data = bytearray(Path(src).read_bytes())
    chunks = _video_chunks(bytes(data))
    rng = np.random.default_rng(seed)
    for index in garbage_frames:
        offset, size = chunks[index]
        data[offset : offset + size] = rng.integers(0, MAX_GRAY + 1, size=size, dtype=np.uint8).tobytes()
    out = Path(dst)
    out.write_bytes(bytes(data[: int(len(data) * keep_fraction)]))
    return out


def demo_script(codes: Sequence[str], hold: int, gap: int) -> list[tuple[str | None, int]]:
    """Empty scene, then each code held for ``hold`` frames with ``gap`` empty frames after it."""
    script: list[tuple[str | None, int]] = [(None, gap)]
    for code in codes:
        script += [(code, hold), (None, gap)]
    return script


def _size(text: str) -> FrameSize:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.camera", description=__doc__)
    parser.add_argument("--out", required=True, type=Path, help="video file to write (.avi)")
    parser.add_argument("--codes", default=",".join(DEMO_CODES), help="comma-separated codes")
    parser.add_argument("--hold", type=int, default=10, help="frames each code stays in view")
    parser.add_argument("--gap", type=int, default=8, help="empty frames around each code")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS)
    parser.add_argument("--size", type=_size, default=DEFAULT_SIZE, help="WIDTHxHEIGHT, e.g. 1280x720")
    parser.add_argument("--degrade", choices=list(DEGRADATIONS), default="clean")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    codes = [c.strip() for c in args.codes.split(",") if c.strip()]
    script = demo_script(codes, args.hold, args.gap)
    path = write_scan_video(args.out, script, fps=args.fps, size=args.size, seed=args.seed, degrade=args.degrade)
    total = sum(frames for _, frames in script)
    width, height = args.size
    print(f"wrote {path}: {total} frames, {width}x{height} @ {args.fps:g} fps, MJPG, seed {args.seed}")
    first = 0
    for code, frames in script:
        if code is not None:
            print(f"  frames {first:4d}-{first + frames - 1:4d}: {code} ({format_for(code)})")
        first += frames
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
