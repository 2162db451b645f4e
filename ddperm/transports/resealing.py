"""WinRM message encryption that survives the host closing an idle connection.

pypsrp 0.9 seals each message with the security context of the connection it authenticated
and then sends it. When the host has meanwhile closed that connection (HTTP.sys closes one
idle for 120 s), the request goes out on a new connection, is challenged (401), and pypsrp
authenticates the new connection by re-sending the body it sealed for the old context. The
new context cannot open it, Windows answers an empty 400, and the command never ran: for a
destructive call a failure the retry policy must not retry.

Here a challenged sealed request authenticates with an empty body instead (as Windows' own
WinRM client authenticates), then the message is sealed again with the new context and sent
on the connection that now holds it. The host read nothing before that, so it runs once.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from pypsrp._utils import get_hostname
from pypsrp.encryption import WinRMEncryption
from pypsrp.exceptions import WinRMError
from pypsrp.negotiate import HTTPNegotiateAuth
from pypsrp.wsman import _TransportHTTP

log = logging.getLogger(__name__)
_SEALED = ("multipart/encrypted", "multipart/x-multi-encrypted")


class _Unread(Exception):
    """The sealed request met a new security context; the host never read it."""


def _sealed(request: requests.PreparedRequest) -> bool:
    content_type = request.headers.get("Content-Type") or ""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return content_type.startswith(_SEALED)


class ResealingAuth(HTTPNegotiateAuth):
    """Negotiate/NTLM/Kerberos auth that never shows a new context a body sealed by another."""

    def handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if _sealed(response.request):
            handshake = response.request.copy()
            for name in ("Content-Type", "Content-Length"):
                handshake.headers.pop(name, None)
            handshake.prepare_body(None, None)  # Content-Length: 0
            response.request = handshake
        answer: requests.Response = super().handle_401(response, **kwargs)  # type: ignore[no-untyped-call]
        return answer


class ResealingTransport(_TransportHTTP):
    """pypsrp's HTTP transport, sealing a message again when its connection was replaced."""

    def send(self, message: bytes, **kwargs: Any) -> bytes:
        for _ in range(2):
            try:
                return super().send(message, **kwargs)
            except _Unread:
                log.info("new connection to %s; sealing the message again", self.server)
        raise WinRMError("two new connections in a row took the message; it was not sent")

    def _send_request(self, request: requests.PreparedRequest, timeout: Any = None) -> bytes:
        context = self._context()
        content = super()._send_request(request, timeout)
        renewed = self._context()
        if _sealed(request) and renewed is not context and self.encryption is not None:
            self.encryption = WinRMEncryption(renewed, self.encryption.protocol)
            raise _Unread
        return content

    def _context(self) -> object:
        contexts = getattr(self.session.auth if self.session else None, "contexts", {})
        return contexts.get(get_hostname(self.endpoint))

    def _build_auth_negotiate(
        self, session: requests.Session, auth_provider: str = "negotiate"
    ) -> None:
        session.auth = ResealingAuth(
            username=self.username,
            password=self.password,
            auth_provider=auth_provider,
            wrap_required=self.wrap_required,
            **self._get_auth_kwargs("negotiate"),
        )
