"""Telling rooms how their calls ended: ``lobby`` (pure: what to show) and ``room_notices``
(claiming call records, showing them on codecs, Try again)."""
