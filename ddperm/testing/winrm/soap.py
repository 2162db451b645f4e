"""The WS-Management SOAP layer: parse a request envelope, build responses and faults.

Knows nothing about PSRP or the FakeHost; the shell layer fills the bodies.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
CREATE, DELETE, GET = TRANSFER + "Create", TRANSFER + "Delete", TRANSFER + "Get"
COMMAND, SEND, RECEIVE, SIGNAL = (
    SHELL + "Command",
    SHELL + "Send",
    SHELL + "Receive",
    SHELL + "Signal",
)
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
_DURATION = re.compile(r"^PT(?P<seconds>\d+(?:\.\d+)?)S$")


def q(prefix: str, name: str) -> str:
    """The ElementTree name of ``prefix:name``."""
    return f"{{{NS[prefix]}}}{name}"


@dataclass(frozen=True)
class Fault:
    """A WS-Man fault: the WSManFault code, the SOAP subcode, the message."""

    code: int
    subcode: str
    message: str


OPERATION_TIMED_OUT = Fault(
    0x80338029,
    "w:TimedOut",
    "The WS-Management service cannot complete the operation within the time specified in "
    "OperationTimeout.",
)
SHELL_NOT_FOUND = Fault(
    0x8033805B,
    "w:InvalidSelectors",
    "The request for the Windows Remote Shell with ShellId {shell} failed because the shell was "
    "not found on the server. Possible causes are: the specified ShellId is incorrect or the "
    "shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
    "retry the operation.",
)
ACTION_NOT_SUPPORTED = Fault(
    50,  # ERROR_NOT_SUPPORTED
    "a:ActionNotSupported",
    "The action is not supported by the service.",
)
INVALID_REQUEST = Fault(
    87,  # ERROR_INVALID_PARAMETER
    "w:SchemaValidationError",
    "The WS-Management service cannot process the request because the XML is invalid: {reason}",
)
INTERNAL_ERROR = Fault(
    1359,  # ERROR_INTERNAL_ERROR
    "w:InternalError",
    "The WS-Management service cannot process the request: {reason}",
)
SERVICE_BUSY = Fault(
    170,  # ERROR_BUSY
    "w:QuotaLimit",
    "The WS-Management service cannot process the request. The service is busy; try again later.",
)


@dataclass(frozen=True)
class Request:
    """The parts of one WS-Man request the twin acts on."""

    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    max_envelope_size: int
    operation_timeout: float
    body: ET.Element

    @property
    def shell_id(self) -> str:
        return self.selectors.get("ShellId", "").upper()


def _text(header: ET.Element, path: str) -> str:
    found = header.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def parse_request(data: bytes) -> Request:
    """Parse a SOAP envelope; raises ``ValueError`` when it is not one."""
    try:
        # Only authenticated loopback clients get here; expat bounds entity expansion.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from exc
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    if header is None or body is None:
        raise ValueError("not a SOAP envelope")
    timeout = _DURATION.match(_text(header, "wsman:OperationTimeout"))
    selectors = {
        s.get("Name", ""): (s.text or "")
        for s in header.findall("wsman:SelectorSet/wsman:Selector", NS)
    }
    return Request(
        action=_text(header, "wsa:Action"),
        message_id=_text(header, "wsa:MessageID"),
        resource_uri=_text(header, "wsman:ResourceURI"),
        selectors=selectors,
        max_envelope_size=int(_text(header, "wsman:MaxEnvelopeSize") or 153600),
        operation_timeout=float(timeout["seconds"]) if timeout else 60.0,
        body=body,
    )


def _envelope(action: str, relates_to: str, body_children: list[ET.Element]) -> bytes:
    envelope = ET.Element(q("s", "Envelope"))
    header = ET.SubElement(envelope, q("s", "Header"))
    ET.SubElement(header, q("wsa", "Action")).text = action
    ET.SubElement(header, q("wsa", "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    ET.SubElement(header, q("wsa", "To")).text = ANONYMOUS
    ET.SubElement(header, q("wsa", "RelatesTo")).text = relates_to
    body = ET.SubElement(envelope, q("s", "Body"))
    body.extend(body_children)
    text: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=False)
    return text


def response(request: Request, *body_children: ET.Element) -> bytes:
    """The ``<Action>Response`` envelope answering ``request``."""
    return _envelope(request.action + "Response", request.message_id, list(body_children))


def fault(request: Request | None, what: Fault, **details: str) -> bytes:
    """A SOAP fault carrying a WSManFault with ``what``'s code (sent with HTTP 500)."""
    element = ET.Element(q("s", "Fault"))
    code = ET.SubElement(element, q("s", "Code"))
    ET.SubElement(code, q("s", "Value")).text = "s:Receiver"
    ET.SubElement(ET.SubElement(code, q("s", "Subcode")), q("s", "Value")).text = what.subcode
    message = what.message.format(**details)
    reason = ET.SubElement(element, q("s", "Reason"))
    ET.SubElement(reason, q("s", "Text"), {q("xml", "lang"): "en-US"}).text = message
    detail = ET.SubElement(element, q("s", "Detail"))
    wsman_fault = ET.SubElement(
        detail, q("wsmanfault", "WSManFault"), {"Code": str(what.code), "Machine": "127.0.0.1"}
    )
    ET.SubElement(wsman_fault, q("wsmanfault", "Message")).text = message
    action = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
    return _envelope(action, request.message_id if request else "", [element])
