"""Delivery of meetings to room endpoints (DESIGN.md §7), one folder per concern:

``devices/`` the endpoint adapters (Cisco xAPI and its booking list, Webex cloud, Poly over the
emulated Exchange, RoomOS native join), ``engine/`` the delivery engine (pure state machine, fleet,
the worker's runner), ``pull/`` what pulling devices and panels read and who may read it,
``notices/`` telling rooms how their calls ended.
"""
