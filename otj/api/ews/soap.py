"""SOAP 1.1 envelopes of Exchange Web Services (pure): parse a request, build a response.

Requests are parsed with defusedxml (no DTDs, no entity expansion, no external entities: a
request carrying any is a ``SoapError``). Responses are built with the standard library's
ElementTree under the namespaces of the EWS schema (messages.xsd/types.xsd, Exchange 2010 SP2
and later): ``m:`` messages, ``t:`` types, ``s:`` the SOAP envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
XML_MEDIA_TYPE = "text/xml; charset=utf-8"
SERVER_VERSION = "Exchange2016"
"""The ``Version`` we report in ``ServerVersionInfo`` (the schema our answers follow)."""

for _prefix, _uri in (("s", S), ("m", M), ("t", T)):
    register_namespace(_prefix, _uri)


def q(namespace: str, name: str) -> str:
    """``{namespace}name`` (ElementTree's qualified name)."""
    return f"{{{namespace}}}{name}"


class SoapError(ValueError):
    """A request that is not an EWS SOAP request (answered with a SOAP fault)."""


@dataclass(frozen=True, slots=True)
class SoapRequest:
    """One parsed EWS request: its operation element and the header's mailbox settings."""

    operation: str
    body: Element
    impersonated: str | None
    """``ExchangeImpersonation``'s SMTP address, when the header has one."""


def parse_request(data: bytes) -> SoapRequest:
    """The operation of a SOAP request (``SoapError`` when it is not one)."""
    try:
        envelope = parse_untrusted_xml(data)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise SoapError(f"the request is not well-formed XML: {exc}") from None
    if envelope.tag != q(S, "Envelope"):
        raise SoapError("the request is not a SOAP 1.1 envelope")
    body = envelope.find(q(S, "Body"))
    if body is None or len(body) == 0:
        raise SoapError("the SOAP envelope has no body")
    operation = body[0]
    if not operation.tag.startswith(f"{{{M}}}"):
        raise SoapError(f"unknown operation element {operation.tag}")
    impersonated = None
    header = envelope.find(q(S, "Header"))
    if header is not None:
        for sid in header.iter(q(T, "ConnectingSID")):
            for address in sid:
                impersonated = (address.text or "").strip().lower()
    return SoapRequest(
        operation=operation.tag.split("}", 1)[1],
        body=operation,
        impersonated=impersonated,
    )


def envelope(response: Element) -> bytes:
    """A SOAP envelope with ``ServerVersionInfo`` around one operation response."""
    root = Element(q(S, "Envelope"))
    header = SubElement(root, q(S, "Header"))
    SubElement(
        header,
        q(T, "ServerVersionInfo"),
        MajorVersion="15",
        MinorVersion="1",
        MajorBuildNumber="2507",
        MinorBuildNumber="6",
        Version=SERVER_VERSION,
    )
    SubElement(root, q(S, "Body")).append(response)
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def fault(code: str, message: str) -> bytes:
    """A SOAP fault with the EWS ``ResponseCode`` in its detail (answered with HTTP 500)."""
    root = Element(q(S, "Envelope"))
    body = SubElement(root, q(S, "Body"))
    failure = SubElement(body, q(S, "Fault"))
    SubElement(failure, "faultcode").text = "s:Client"
    SubElement(failure, "faultstring").text = message
    detail = SubElement(failure, "detail")
    SubElement(detail, q(M, "ResponseCode")).text = code
    SubElement(detail, q(M, "Message")).text = message
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def response_messages(operation: str) -> tuple[Element, Element]:
    """``<m:{operation}Response><m:ResponseMessages>`` (both returned)."""
    response = Element(q(M, f"{operation}Response"))
    return response, SubElement(response, q(M, "ResponseMessages"))


def success(messages: Element, operation: str) -> Element:
    """A successful ``<m:{operation}ResponseMessage>``."""
    message = SubElement(messages, q(M, f"{operation}ResponseMessage"), ResponseClass="Success")
    SubElement(message, q(M, "ResponseCode")).text = "NoError"
    return message


def error(messages: Element, operation: str, code: str, text: str) -> Element:
    """A failed ``<m:{operation}ResponseMessage>`` (``MessageText``, ``ResponseCode``,
    ``DescriptiveLinkKey`` in the schema's order)."""
    message = SubElement(messages, q(M, f"{operation}ResponseMessage"), ResponseClass="Error")
    SubElement(message, q(M, "MessageText")).text = text
    SubElement(message, q(M, "ResponseCode")).text = code
    SubElement(message, q(M, "DescriptiveLinkKey")).text = "0"
    return message
