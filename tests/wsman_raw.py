"""Raw WS-Man requests to a twin endpoint (Basic over http), for what clients never send."""

from __future__ import annotations

import uuid

import requests

from ddperm.testing.winrm import Endpoint

SOAP_TYPE = "application/soap+xml;charset=UTF-8"
_NS = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"'
)


def envelope(action: str, resource_uri: str, body: str = "", shell_id: str = "") -> bytes:
    """A WS-Man request envelope; ``action`` is the full action URI (empty: none)."""
    selectors = (
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector>'
        "</wsman:SelectorSet>"
        if shell_id
        else ""
    )
    header = (
        (f"<wsa:Action>{action}</wsa:Action>" if action else "")
        + f"<wsa:MessageID>uuid:{uuid.uuid4()}</wsa:MessageID>"
        + f"<wsman:ResourceURI>{resource_uri}</wsman:ResourceURI>"
        + "<wsman:OperationTimeout>PT2S</wsman:OperationTimeout>"
        + selectors
    )
    text = f"<s:Envelope {_NS}><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    return text.encode()


def post(
    endpoint: Endpoint,
    data: bytes,
    *,
    content_type: str = SOAP_TYPE,
    authenticated: bool = True,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST ``data`` to the endpoint with Basic credentials (or none)."""
    auth = (endpoint.username, endpoint.password) if authenticated else None
    return requests.post(
        endpoint.url,
        data=data,
        auth=auth,
        headers={"Content-Type": content_type, **(headers or {})},
        timeout=30,
    )
