"""What pulling devices, macros and panels read (``feeds``: JSON, ETag, iCalendar) and who may
read it (``access``: endpoint tokens and OAuth 2 access tokens)."""
