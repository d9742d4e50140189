"""Prompt audio: one 8 kHz mono 16-bit WAV per phrase and language (``prompts/<lang>/``).

The English files are generated once by ``python -m guestjoin.reception.make_prompts`` (espeak-ng)
from ``ENGLISH`` and committed; a language is added by adding its directory with the same file
names. A language without a file for a phrase falls back to English for that phrase.

``Phrase.MEETING`` has no file: the calling room's meeting ("Weekly sync, on Zoom, at 09:30") is
spoken at run time by espeak-ng when the gateway's machine has it (``synthesize``), and left
out otherwise (the splash shows it either way).
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import wave
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import av
from av.audio.resampler import AudioResampler

from guestjoin.reception.machine import Phrase

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent / "prompts"
ESPEAK = "espeak-ng"
VOICES = {"en": "en-gb"}  # espeak-ng voice per prompt language (else the language code)
RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2
PAUSE = b"\x00\x00" * (RATE // 4)  # 250 ms between phrases

ENGLISH: dict[Phrase, str] = {
    Phrase.WELCOME: "Welcome to the virtual reception.",
    Phrase.PRESS_HASH: "To join this room's meeting, press the hash key.",
    Phrase.ENTER_ID: "Please enter a meeting I D, followed by the hash key.",
    Phrase.OR_ENTER_ID: "Or enter a meeting I D, followed by the hash key.",
    Phrase.INVALID: "That meeting I D is not valid.",
    Phrase.NO_INPUT: "We did not receive a meeting I D.",
    Phrase.NO_MEETING: "This room has no meeting to join right now.",
    Phrase.UNREACHABLE: "That meeting cannot be reached.",
    Phrase.CONNECTING: "Connecting you to your meeting.",
    Phrase.GOODBYE: "Goodbye.",
}


class PromptError(ValueError):
    """A prompt file that is not 8 kHz mono 16-bit PCM."""


@lru_cache(maxsize=64)
def load(phrase: Phrase, language: str = "en") -> bytes:
    """The phrase's PCM (s16le, 8 kHz, mono), the language's file or else the English one."""
    for lang in (language, "en"):
        path = PROMPTS_DIR / lang / f"{phrase.value}.wav"
        if path.is_file():
            return read_wav(path)
    raise PromptError(f"no prompt file for {phrase.value!r} ({language} or en) in {PROMPTS_DIR}")


def read_wav(path: Path) -> bytes:
    """The samples of an 8 kHz mono 16-bit WAV file."""
    with wave.open(str(path), "rb") as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (RATE, 1, 2):
            raise PromptError(f"{path}: {shape} (rate, channels, width); need (8000, 1, 2)")
        return wav.readframes(wav.getnframes())


def compose(
    phrases: Iterable[Phrase], language: str = "en", spoken: Mapping[Phrase, bytes] | None = None
) -> bytes:
    """The phrases' PCM one after another with a short pause, padded to whole 20 ms frames;
    ``spoken`` gives the run-time ones (``Phrase.MEETING``), left out when missing."""
    extra = spoken or {}
    parts = [extra.get(p, b"") if p is Phrase.MEETING else load(p, language) for p in phrases]
    pcm = PAUSE.join(part for part in parts if part)
    return pcm + b"\x00" * (-len(pcm) % FRAME_BYTES)


def to_8k(wav_bytes: bytes) -> bytes:
    """Any WAV resampled with PyAV to 8 kHz mono s16 PCM."""
    resampler = AudioResampler(format="s16", layout="mono", rate=RATE)
    out = bytearray()
    with av.open(io.BytesIO(wav_bytes), mode="r", format="wav") as container:
        for frame in container.decode(audio=0):
            for resampled in resampler.resample(frame):
                out += bytes(resampled.planes[0])[: resampled.samples * 2]
    for resampled in resampler.resample(None):
        out += bytes(resampled.planes[0])[: resampled.samples * 2]
    return bytes(out)


@lru_cache(maxsize=128)
def synthesize(text: str, language: str = "en", program: str = ESPEAK) -> bytes:
    """``text`` spoken by espeak-ng as 8 kHz PCM; empty when espeak-ng is not installed or
    fails (blocking: call from a worker thread)."""
    binary = shutil.which(program)
    if binary is None or not text.strip():
        return b""
    voice = VOICES.get(language, language)
    try:
        spoken = subprocess.run(  # noqa: S603 - a fixed program; the text is one argument
            [binary, "-v", voice, "-s", "150", "--stdout", "--", text],
            check=True,
            capture_output=True,
            timeout=5,
        ).stdout
        return to_8k(spoken)
    except (OSError, subprocess.SubprocessError, av.error.FFmpegError) as exc:
        log.warning("espeak-ng could not speak %r: %s", text, exc)
        return b""


def frames(pcm: bytes) -> list[bytes]:
    """``pcm`` cut into 20 ms frames (160 samples)."""
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
