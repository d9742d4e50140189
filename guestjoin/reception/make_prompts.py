"""Generate the English prompt files with espeak-ng (run once; the output is committed).

    python -m guestjoin.reception.make_prompts [--espeak /usr/bin/espeak-ng] [--voice en-gb]

Each phrase of ``prompts.ENGLISH`` is spoken by espeak-ng (22.05 kHz WAV), resampled with PyAV
to 8 kHz mono 16-bit and written to ``prompts/en/<phrase>.wav`` (a few kB per phrase).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import wave
from pathlib import Path

from guestjoin.reception.prompts import ENGLISH, PROMPTS_DIR, RATE, to_8k


def main() -> None:
    """Write ``prompts/en/*.wav``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--espeak", default="/usr/bin/espeak-ng")
    parser.add_argument("--voice", default="en-gb")
    parser.add_argument("--speed", default="150")
    parser.add_argument("--out", type=Path, default=PROMPTS_DIR / "en")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for phrase, text in ENGLISH.items():
        spoken = subprocess.run(  # noqa: S603 - a fixed program and our own phrases
            [args.espeak, "-v", args.voice, "-s", args.speed, "--stdout", text],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        pcm = to_8k(spoken)
        path = args.out / f"{phrase.value}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(pcm)
        sys.stdout.write(f"{path}: {len(pcm) / 2 / RATE:.2f} s\n")


if __name__ == "__main__":
    main()
