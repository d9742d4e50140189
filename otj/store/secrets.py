"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key from the environment or a file.

A secret column holds a JSON envelope: ``{"ref": "env:NAME"}`` / ``{"ref": "file:PATH"}`` for a
reference (resolved when the secret is used, so a missing variable on the admin's laptop does
not block ``otj config apply``), or ``{"enc": "<Fernet token>"}`` for an inline value.

The key comes from ``OTJ_SECRET_KEY`` (one Fernet key, or several separated by commas: the first
encrypts, all decrypt, for rotation), else from the key file (``OTJ_SECRET_KEY_FILE`` or
``<data dir>/secret.key``), which is created with mode 0600 on first use.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from otj.secret import Secret, SecretRefError, resolve_secret

log = logging.getLogger(__name__)

REFERENCE_PREFIXES = ("env:", "file:")


class SecretKeyError(RuntimeError):
    """The encryption key is missing, malformed, unsafe, or does not open a stored secret."""


def is_reference(value: str) -> bool:
    """True for ``env:NAME`` and ``file:PATH`` values (stored as references, not encrypted)."""
    return value.startswith(REFERENCE_PREFIXES)


class SecretBox:
    """Seals and opens secret envelopes; the key is loaded (or created) on first use."""

    def __init__(
        self,
        *,
        key_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        keys: tuple[str, ...] = (),
    ) -> None:
        self._key_file = key_file
        self._environ = os.environ if environ is None else environ
        self._keys = keys
        self._fernet: MultiFernet | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretBox(key_file={self._key_file!s})"

    def _cipher(self) -> MultiFernet:
        with self._lock:
            if self._fernet is None:
                keys = self._keys or self._load_keys()
                try:
                    self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
                except (ValueError, TypeError) as exc:
                    raise SecretKeyError(
                        "the secret key is not a valid Fernet key (32 url-safe base64 bytes); "
                        "generate one with: otj db keygen"
                    ) from exc
            return self._fernet

    def _load_keys(self) -> tuple[str, ...]:
        from_env = self._environ.get("OTJ_SECRET_KEY", "").strip()
        if from_env:
            return tuple(k for k in from_env.split(",") if k.strip())
        if self._key_file is None:
            raise SecretKeyError("no OTJ_SECRET_KEY and no key file configured")
        return (load_or_create_key_file(self._key_file),)

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. the gateway's dialog tokens) derived from the
        current secret key by HKDF-SHA256 (RFC 5869): it changes with the key, never reveals it."""
        keys = self._keys or self._load_keys()
        try:
            material = base64.urlsafe_b64decode(keys[0].strip().encode())
        except (binascii.Error, ValueError):
            material = b""
        if len(material) != 32:
            raise SecretKeyError(
                "the secret key is not a valid Fernet key (32 url-safe base64 bytes); "
                "generate one with: otj db keygen"
            )
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
        return hkdf.derive(material)

    def seal(self, value: str) -> dict[str, Any]:
        """Envelope for a configuration value: a reference stays a reference, text is encrypted."""
        if is_reference(value):
            return {"ref": value}
        return {"enc": self._cipher().encrypt(value.encode()).decode()}

    def open(
        self, envelope: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
    ) -> Secret:
        """The ``Secret`` of an envelope; references are resolved now (``SecretRefError``)."""
        if "ref" in envelope:
            return resolve_secret(str(envelope["ref"]), environ=environ)
        try:
            plain = self._cipher().decrypt(str(envelope["enc"]).encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                "a stored secret cannot be decrypted: the secret key differs from the one it was "
                "stored with (restore the key file or OTJ_SECRET_KEY, or apply the secret again)"
            ) from exc
        return Secret(plain)


def generate_key() -> str:
    """A new random Fernet key."""
    return Fernet.generate_key().decode()


def load_or_create_key_file(path: Path) -> str:
    """Read the key file, creating it (mode 0600, exclusive create) when it does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(generate_key() + "\n")
        log.info("created secret key file %s (mode 0600): back it up with the database", path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"secret key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise SecretKeyError(f"secret key file {path} is empty")
    return key


__all__ = [
    "SecretBox",
    "SecretKeyError",
    "SecretRefError",
    "generate_key",
    "is_reference",
    "load_or_create_key_file",
]
