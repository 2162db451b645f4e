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
    "wsmid": "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
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
IDENTIFY = "Identify"
"""The action name the twin gives an Identify request (which carries no wsa:Action)."""
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
_FAULT_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"
_DURATION = re.compile(
    r"^P(?:(?P<D>\d+)D)?(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<M>\d+)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?$"
)
_SECONDS = {"D": 86400, "H": 3600, "M": 60, "S": 1}
DEFAULT_TIMEOUT = 60.0
"""Seconds a request without OperationTimeout may take (WinRM's default, 60 s)."""


def q(prefix: str, name: str) -> str:
    """The ElementTree name of ``prefix:name``."""
    return f"{{{NS[prefix]}}}{name}"


@dataclass(frozen=True)
class Fault:
    """A WS-Man fault: WSManFault code, SOAP subcode, message, who is to blame, detail."""

    code: int
    subcode: str
    message: str
    sender: bool = True
    """s:Sender (the request was wrong) or s:Receiver (the service could not do it)."""
    detail: str = ""
    """The wsman:FaultDetail name under .../wsman/faultDetail/, if any."""
    reason: str = ""
    """The s:Reason text when it is more generic than the message (else the message)."""


OPERATION_TIMED_OUT = Fault(
    0x80338029,
    "w:TimedOut",
    "The WS-Management service cannot complete the operation within the time specified in "
    "OperationTimeout.  ",
    sender=False,
)
_BAD_SELECTORS = (
    "The WS-Management service cannot process the request because the request contained "
    "invalid selectors for the resource. "
)
INVALID_SELECTORS = Fault(
    0x8033805B, "w:InvalidSelectors", _BAD_SELECTORS, detail="UnexpectedSelectors"
)
"""A Get on a shell that does not exist (any more)."""
SHELL_NOT_FOUND = Fault(
    0x8033805B,
    "w:InvalidSelectors",
    "The request for the Windows Remote Shell with ShellId {shell} failed because the shell was "
    "not found on the server. Possible causes are: the specified ShellId is incorrect or the "
    "shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
    "retry the operation.",
    detail="UnexpectedSelectors",
    reason=_BAD_SELECTORS,
)
COMMAND_NOT_FOUND = Fault(
    0x8033805B,
    "w:InvalidSelectors",
    "The Windows Remote Shell received a request to perform an operation on a command identifier "
    "that does not exist. Either the command has completed execution or the client specified an "
    "invalid command identifier. ",
    detail="UnexpectedSelectors",
    reason=_BAD_SELECTORS,
)
RESOURCE_NOT_FOUND = Fault(
    0x8033803B,
    "a:DestinationUnreachable",
    "The WS-Management service cannot process the request. The resource URI ({uri}) was not "
    "found in the WS-Management catalog. The catalog contains the metadata that describes "
    "resources, or logical endpoints. ",
    detail="InvalidResourceURI",
)
ACTION_NOT_SUPPORTED = Fault(
    0x80338013,
    "a:ActionNotSupported",
    "The WS-Management service does not support the action specified in the request. ",
)
INVALID_REQUEST = Fault(
    0x80338041,
    "w:SchemaValidationError",
    "The SOAP XML in the message does not match the corresponding XML schema definition. "
    "Change the XML and retry. ",
)
ABORTED = Fault(
    995,  # ERROR_OPERATION_ABORTED
    "w:InternalError",
    "The I/O operation has been aborted because of either a thread exit or an application "
    "request. ",
    sender=False,
)
INTERNAL_ERROR = Fault(
    0x80338003,  # ERROR_WSMAN_PROVIDER_FAILURE
    "w:InternalError",
    "An error was encountered inside the plugin. ",
    sender=False,
)
INVALID_HEADER = Fault(
    0x8033800F,
    "a:InvalidMessageInformationHeader",
    "The WS-Management service cannot process the request. The XML contains an invalid "
    "timeout field in the SOAP header: {timeout}. ",
    reason="The WS-Management service cannot process the request. The request contains one "
    "or more invalid SOAP headers. ",
)
SERVICE_BUSY = Fault(
    170,  # ERROR_BUSY
    "w:QuotaLimit",
    "The WS-Management service cannot process the request. The service is busy; try again later.",
    sender=False,
)


class WSManFault(Exception):
    """Raised by the service layers to answer a request with ``fault``."""

    def __init__(self, fault: Fault, **details: str) -> None:
        super().__init__(fault.message.format(**details))
        self.fault = fault
        self.details = details


@dataclass(frozen=True)
class Request:
    """The parts of one WS-Man request the twin acts on."""

    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]
    max_envelope_size: int
    timeout_header: str
    """The wsman:OperationTimeout text as sent ("" when absent)."""
    body: ET.Element

    @property
    def shell_id(self) -> str:
        return self.selectors.get("ShellId", "").upper()

    @property
    def operation_timeout(self) -> float:
        """OperationTimeout in seconds (an xs:duration such as PT20S, PT1.5S, PT1M, PT1H);
        ``WSManFault`` ``INVALID_HEADER`` when it is not one."""
        if not self.timeout_header:
            return DEFAULT_TIMEOUT
        found = _DURATION.match(self.timeout_header)
        if found is None or found.group(0) == "P":
            raise WSManFault(INVALID_HEADER, timeout=self.timeout_header)
        return sum(float(found[unit] or 0) * scale for unit, scale in _SECONDS.items())

    @property
    def name(self) -> str:
        """The action's last segment ("Receive"), or "Identify"."""
        return self.action.rsplit("/", 1)[-1]


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
    action = _text(header, "wsa:Action")
    if not action and body.find("wsmid:Identify", NS) is not None:
        action = IDENTIFY
    return Request(
        action=action,
        message_id=_text(header, "wsa:MessageID"),
        resource_uri=_text(header, "wsman:ResourceURI"),
        selectors=_named(header, "wsman:SelectorSet/wsman:Selector"),
        options=_named(header, "wsman:OptionSet/wsman:Option"),
        max_envelope_size=int(_text(header, "wsman:MaxEnvelopeSize") or 153600),
        timeout_header=_text(header, "wsman:OperationTimeout"),
        body=body,
    )


def _named(header: ET.Element, path: str) -> dict[str, str]:
    return {e.get("Name", ""): (e.text or "") for e in header.findall(path, NS)}


def _envelope(action: str, relates_to: str, body_children: list[ET.Element]) -> bytes:
    envelope = ET.Element(q("s", "Envelope"))
    header = ET.SubElement(envelope, q("s", "Header"))
    if action:
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


def identify_response(vendor: str, version: str) -> bytes:
    """An IdentifyResponse (no addressing headers: Identify has none either)."""
    answer = ET.Element(q("wsmid", "IdentifyResponse"))
    for name, value in (
        ("ProtocolVersion", NS["wsman"]),
        ("ProductVendor", vendor),
        ("ProductVersion", version),
    ):
        ET.SubElement(answer, q("wsmid", name)).text = value
    return _envelope("", "", [answer])


def fault(request: Request | None, what: Fault, **details: str) -> bytes:
    """A SOAP fault carrying a WSManFault with ``what``'s code (sent with HTTP 500)."""
    element = ET.Element(q("s", "Fault"))
    code = ET.SubElement(element, q("s", "Code"))
    ET.SubElement(code, q("s", "Value")).text = "s:Sender" if what.sender else "s:Receiver"
    ET.SubElement(ET.SubElement(code, q("s", "Subcode")), q("s", "Value")).text = what.subcode
    message = what.message.format(**details)
    reason = ET.SubElement(element, q("s", "Reason"))
    text = what.reason.format(**details) or message
    ET.SubElement(reason, q("s", "Text"), {q("xml", "lang"): "en-US"}).text = text
    detail = ET.SubElement(element, q("s", "Detail"))
    if what.detail:
        ET.SubElement(detail, q("wsman", "FaultDetail")).text = _FAULT_DETAIL + what.detail
    wsman_fault = ET.SubElement(
        detail, q("wsmanfault", "WSManFault"), {"Code": str(what.code), "Machine": "127.0.0.1"}
    )
    ET.SubElement(wsman_fault, q("wsmanfault", "Message")).text = message
    action = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
    return _envelope(action, request.message_id if request else "", [element])
