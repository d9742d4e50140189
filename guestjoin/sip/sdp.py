"""Cap the bandwidth an SDP body announces (RFC 4566 §5.8 ``b=AS``, RFC 3890 ``b=TIAS``)."""

from __future__ import annotations


def cap_bandwidth(body: bytes, kbps: int) -> bytes:
    """Return ``body`` with session-level ``b=AS:kbps``/``b=TIAS:bps`` no higher than the cap.

    Existing session and media values above the cap are lowered; missing session-level lines
    are added before the first ``t=`` line (the order of §5). Bodies that are not SDP are
    returned unchanged.
    """
    if kbps <= 0 or not body.startswith(b"v="):
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(eol)
    trailing = lines and lines[-1] == ""
    if trailing:
        lines = lines[:-1]
    out: list[str] = []
    in_session = True
    session_as = session_tias = False
    tias_cap = kbps * 1000
    for line in lines:
        if line.startswith("m="):
            if in_session:
                _add_session_lines(out, session_as, session_tias, kbps, tias_cap)
            in_session = False
        if line.startswith("b=AS:"):
            out.append(f"b=AS:{_capped(line[5:], kbps)}")
            session_as = session_as or in_session
        elif line.startswith("b=TIAS:"):
            out.append(f"b=TIAS:{_capped(line[7:], tias_cap)}")
            session_tias = session_tias or in_session
        else:
            out.append(line)
    if in_session:
        _add_session_lines(out, session_as, session_tias, kbps, tias_cap)
    result = eol.join(out) + (eol if trailing else "")
    return result.encode("utf-8")


def _capped(value: str, cap: int) -> int:
    value = value.strip()
    return min(int(value), cap) if value.isdigit() else cap


def _add_session_lines(
    out: list[str], has_as: bool, has_tias: bool, kbps: int, tias_cap: int
) -> None:
    """Insert the missing session-level b= lines before the first t= line (or at the end)."""
    missing = []
    if not has_as:
        missing.append(f"b=AS:{kbps}")
    if not has_tias:
        missing.append(f"b=TIAS:{tias_cap}")
    if not missing:
        return
    at = next((i for i, line in enumerate(out) if line.startswith("t=")), len(out))
    # keep b= after any existing c=/b= lines that precede t=
    out[at:at] = missing
