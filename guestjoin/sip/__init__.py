"""Pure RFC 3261 message model, parser and serialiser: no I/O, no clock."""

from guestjoin.sip.framing import Keepalive, StreamError, StreamFramer
from guestjoin.sip.headers import CSeq, Via, canonical_name, parse_cseq, parse_via, split_commas
from guestjoin.sip.message import (
    REASONS,
    HeaderList,
    Message,
    Request,
    Response,
    make_response,
)
from guestjoin.sip.parser import DEFAULT_LIMITS, Limits, SipParseError, parse_message
from guestjoin.sip.uri import NameAddr, SipUri, UriError, parse_name_addr, parse_uri

__all__ = [
    "DEFAULT_LIMITS",
    "REASONS",
    "CSeq",
    "HeaderList",
    "Keepalive",
    "Limits",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipParseError",
    "SipUri",
    "StreamError",
    "StreamFramer",
    "UriError",
    "Via",
    "canonical_name",
    "make_response",
    "parse_cseq",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
    "split_commas",
]
