"""Delivery of meetings to room endpoints (DESIGN.md §7).

``bookings`` and ``xapi`` are pure (rendering and parsing of Cisco booking lists and xAPI XML),
``plan`` is the pure delivery state machine, ``cisco`` is the HTTP edge (httpx).
"""
