"""PURE bencode (BEP 3), the encoding of rtpengine's ng protocol: integers, byte strings, lists
and dictionaries with byte-string keys in sorted order. Strings are decoded as UTF-8 when they
are valid UTF-8 (SDP and every ng key are), else kept as bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Value = int | str | bytes | list["Value"] | dict[str, "Value"]

MAX_DEPTH = 32


class BencodeError(ValueError):
    """Bytes that are not one well-formed bencoded value."""


def encode(value: object) -> bytes:
    """``value`` bencoded (dict keys sorted as raw bytes, as BEP 3 asks)."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: object, out: bytearray) -> None:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans; send 'yes'/'no' or a flag")
    if isinstance(value, int):
        out += b"i%de" % value
    elif isinstance(value, str | bytes):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        out += b"%d:" % len(raw)
        out += raw
    elif isinstance(value, Mapping):
        items = sorted(
            ((k.encode("utf-8") if isinstance(k, str) else k, v) for k, v in value.items()),
            key=lambda item: item[0],
        )
        out += b"d"
        for key, item in items:
            if not isinstance(key, bytes):
                raise TypeError(f"bencode dictionary keys are strings, got {key!r}")
            _encode(key, out)
            _encode(item, out)
        out += b"e"
    elif isinstance(value, Sequence):
        out += b"l"
        for item in value:
            _encode(item, out)
        out += b"e"
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def decode(data: bytes) -> Value:
    """The one value ``data`` holds; trailing bytes are an error."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise BencodeError(f"{len(data) - end} trailing byte(s) after the value at {end}")
    return value


def _decode(data: bytes, at: int, depth: int) -> tuple[Value, int]:
    if depth > MAX_DEPTH:
        raise BencodeError(f"nested deeper than {MAX_DEPTH} levels at {at}")
    head = data[at : at + 1]
    if head == b"i":
        end = data.find(b"e", at)
        digits = data[at + 1 : end] if end > 0 else b""
        if not _is_integer(digits):
            raise BencodeError(f"bad integer at {at}")
        return int(digits), end + 1
    if head == b"l":
        items: list[Value] = []
        at += 1
        while data[at : at + 1] != b"e":
            if at >= len(data):
                raise BencodeError("list not terminated")
            item, at = _decode(data, at, depth + 1)
            items.append(item)
        return items, at + 1
    if head == b"d":
        mapping: dict[str, Value] = {}
        at += 1
        while data[at : at + 1] != b"e":
            if at >= len(data):
                raise BencodeError("dictionary not terminated")
            key, at = _decode(data, at, depth + 1)
            if not isinstance(key, str):
                raise BencodeError(f"dictionary key before {at} is not a UTF-8 string")
            mapping[key], at = _decode(data, at, depth + 1)
        return mapping, at + 1
    if head.isdigit():
        colon = data.find(b":", at)
        length = data[at:colon] if colon > 0 else b""
        if not length.isdigit() or (length.startswith(b"0") and length != b"0"):
            raise BencodeError(f"bad string length at {at}")
        start, end = colon + 1, colon + 1 + int(length)
        if end > len(data):
            raise BencodeError(f"string at {at} runs past the end")
        raw = data[start:end]
        try:
            return raw.decode("utf-8"), end
        except UnicodeDecodeError:
            return raw, end
    raise BencodeError(f"unexpected {head!r} at {at}" if head else "value missing")


def _is_integer(digits: bytes) -> bool:
    body = digits[1:] if digits.startswith(b"-") else digits
    if not body.isdigit():
        return False
    return not (body.startswith(b"0") and (len(body) > 1 or digits.startswith(b"-")))
