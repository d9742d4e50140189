"""The Cisco codec simulator of the demo, benches and tests: ``bookings`` (what a codec accepts),
``device`` (its state and xAPI commands), ``screen`` (messages on its screen), ``server`` (the HTTP
xAPI on 127.0.0.1, h11) and ``farm`` (many codecs in one event loop).
"""
