"""The splash screen: text rendered at 1280×720 with Pillow, encoded by aiortc's video encoders.

The splash says what the prompt says: the calling room's meeting (subject, platform, start
time) on ``#`` when there is one, and always "or enter a meeting ID followed by #".
"""

from __future__ import annotations

import fractions
from datetime import tzinfo

from av import VideoFrame
from PIL import Image, ImageDraw, ImageFont

from guestjoin.reception.machine import CalendarOffer
from otj.model import Platform

WIDTH, HEIGHT = 1280, 720
VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
BACKGROUND = (16, 38, 64)
TEXT = (255, 255, 255)
ACCENT = (120, 200, 255)
PLATFORM_NAMES = {
    Platform.GOOGLE_MEET: "Google Meet",
    Platform.MICROSOFT_TEAMS: "Microsoft Teams",
    Platform.ZOOM: "Zoom",
    Platform.WEBEX: "Webex",
}


def splash_lines(
    reception: str, offer: CalendarOffer | None, zone: tzinfo | None
) -> list[tuple[str, int, tuple[int, int, int]]]:
    """The splash's lines as (text, font size, colour)."""
    lines = [(reception, 56, ACCENT)]
    if offer is not None:
        when = offer.start.astimezone(zone).strftime("%H:%M")
        platform = PLATFORM_NAMES.get(offer.platform, "")
        detail = f"{platform}, {when}" if platform else when
        lines += [
            ("Press # to join", 48, TEXT),
            (_clip(offer.subject or "this room's meeting", 48), 44, TEXT),
            (f"({detail})", 40, TEXT),
            ("or enter a meeting ID followed by #", 40, ACCENT),
        ]
    else:
        lines.append(("Enter a meeting ID followed by #", 48, TEXT))
    return lines


def spoken_meeting(offer: CalendarOffer, zone: tzinfo | None) -> str:
    """The meeting as the prompt says it: "Weekly sync, on Google Meet, at 09:30."."""
    platform = PLATFORM_NAMES.get(offer.platform, "")
    words = [_clip(offer.subject, 80) or "your meeting"]
    if platform:
        words.append(f"on {platform}")
    words.append(f"at {offer.start.astimezone(zone).strftime('%H:%M')}")
    return ", ".join(words) + "."


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(lines: list[tuple[str, int, tuple[int, int, int]]]) -> Image.Image:
    """The lines centred on a 1280×720 image."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    fonts = [ImageFont.load_default(size=size) for _, size, _ in lines]
    heights = [size + 24 for _, size, _ in lines]
    y = (HEIGHT - sum(heights)) // 2
    for (text, _size, colour), font, height in zip(lines, fonts, heights, strict=True):
        left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
        draw.text(((WIDTH - (right - left)) // 2, y), text, font=font, fill=colour)
        y += height
    return image


def to_yuv(image: Image.Image) -> VideoFrame:
    """The image as a 1280×720 yuv420p frame (converted once per splash, not per frame)."""
    rgb = VideoFrame(WIDTH, HEIGHT, "rgb24")
    rgb.planes[0].update(image.convert("RGB").resize((WIDTH, HEIGHT)).tobytes())
    return rgb.reformat(format="yuv420p")


def video_frame(yuv: VideoFrame, index: int, fps: int) -> VideoFrame:
    """Frame ``index`` of the splash at ``fps`` (pts in the 90 kHz RTP clock): a fresh frame
    with the converted picture copied in (an encoder must not see one frame object twice)."""
    frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
    for source, target in zip(yuv.planes, frame.planes, strict=True):
        target.update(bytes(source))
    frame.pts = index * (VIDEO_CLOCK // fps)
    frame.time_base = TIME_BASE
    return frame
