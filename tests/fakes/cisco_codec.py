"""The Cisco codec simulator for tests (implementation: ``otj.delivery.codec_simulator``).

It lives in the package because ``otj serve``'s demo and ``bench/delivery.py`` run it too
(DESIGN.md §2: fakes beside the delivery adapters); tests import it from here.
"""

from otj.delivery.codec_simulator import (
    LEGACY_SOFTWARE,
    PUT_SOFTWARE,
    CodecBehaviour,
    CodecFarm,
    SimulatedCodec,
    StoredBooking,
    ThreadedCodecFarm,
    validate_legacy_document,
    validate_put_payload,
)

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
