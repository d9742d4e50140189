"""Endpoint adapters: the Cisco xAPI over HTTP (``xapi`` and ``bookings`` pure, ``cisco`` the
httpx edge), the Webex cloud xAPI, Poly endpoints (they read the emulated Exchange server),
RoomOS native join URLs, and the errors every adapter raises."""
