"""SOAP envelopes for the independent endpoint: read a request, write a response or a fault.

Written from MS-WSMV and DSP0226 (WS-Management), not from ddperm.testing.winrm.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "ps": "http://schemas.microsoft.com/powershell",
}
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
SHELL_NOT_FOUND = 0x8033805B
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def q(name: str) -> str:
    """``"rsp:Shell"`` as ElementTree's ``{uri}Shell``."""
    prefix, _, local = name.partition(":")
    return f"{{{NS[prefix]}}}{local}"


@dataclass
class Request:
    action: str
    """The last segment of wsa:Action, e.g. ``Create`` or ``Receive``."""
    message_id: str
    resource_uri: str
    shell_id: str | None
    body: ET.Element


def read(data: bytes) -> Request:
    envelope = ET.fromstring(data)
    header, body = envelope.find("s:Header", NS), envelope.find("s:Body", NS)
    if header is None or body is None:
        raise ValueError("not a SOAP envelope")
    selector = header.find("wsman:SelectorSet/wsman:Selector[@Name='ShellId']", NS)
    return Request(
        action=(header.findtext("wsa:Action", "", NS)).rsplit("/", 1)[-1],
        message_id=header.findtext("wsa:MessageID", "", NS),
        resource_uri=header.findtext("wsman:ResourceURI", "", NS),
        shell_id=selector.text if selector is not None else None,
        body=body,
    )


def response(request: Request, action: str, *content: ET.Element) -> bytes:
    envelope = ET.Element(q("s:Envelope"))
    header = ET.SubElement(envelope, q("s:Header"))
    ET.SubElement(header, q("wsa:Action")).text = action
    ET.SubElement(header, q("wsa:MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    ET.SubElement(header, q("wsa:RelatesTo")).text = request.message_id
    ET.SubElement(header, q("wsa:To")).text = ANONYMOUS
    body = ET.SubElement(envelope, q("s:Body"))
    body.extend(content)
    return bytes(ET.tostring(envelope, encoding="utf-8", xml_declaration=True))


def fault(request: Request, code: int, message: str) -> bytes:
    """A wsman:InternalError-style fault carrying the WinRM error ``code``."""
    fault = ET.Element(q("s:Fault"))
    code_element = ET.SubElement(fault, q("s:Code"))
    ET.SubElement(code_element, q("s:Value")).text = "s:Receiver"
    reason = ET.SubElement(fault, q("s:Reason"))
    ET.SubElement(reason, q("s:Text"), {"xml:lang": "en-US"}).text = message
    detail = ET.SubElement(fault, q("s:Detail"))
    wsman_fault = ET.SubElement(detail, q("f:WSManFault"), Code=str(code), Machine="localhost")
    ET.SubElement(wsman_fault, q("f:Message")).text = message
    return response(request, "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", fault)
