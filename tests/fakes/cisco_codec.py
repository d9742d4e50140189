"""The Cisco codec simulator for tests (implementation: ``otj.demo.codec``).

It lives in the package because ``otj serve``'s demo and ``bench/delivery.py`` run it too;
tests import it from here.
"""

from otj.demo.codec.bookings import (
    LEGACY_SOFTWARE,
    PUT_SOFTWARE,
    StoredBooking,
    validate_legacy_document,
    validate_put_payload,
)
from otj.demo.codec.device import CodecBehaviour
from otj.demo.codec.farm import CodecFarm, ThreadedCodecFarm
from otj.demo.codec.server import SimulatedCodec

__all__ = [
    "LEGACY_SOFTWARE",
    "PUT_SOFTWARE",
    "CodecBehaviour",
    "CodecFarm",
    "SimulatedCodec",
    "StoredBooking",
    "ThreadedCodecFarm",
    "validate_legacy_document",
    "validate_put_payload",
]
