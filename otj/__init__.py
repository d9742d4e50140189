"""One-Touch Join: room calendars to Join buttons on SIP video endpoints."""

__version__ = "0.1.0"
