"""What the twin's WinRM service answers besides PSRP: its catalog, Identify, its own
configuration, the cmd shell, and the HTTP-level refusals of a default Windows host."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import RunspacePool
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, serve, soap
from ddperm.testing.winrm.config import CMD_SHELL, CONFIG
from ddperm.testing.winrm.winrs import NOT_SUPPORTED
from tests import wsman_raw

NOT_IN_CATALOG = 0x8033803B
INVALID_SELECTORS = 0x8033805B
IDENTIFY = '<wsmid:Identify xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"/>'


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost()) as served:
        yield served


def _wsman(endpoint: Endpoint, **extra: object) -> WSMan:
    options = {**endpoint.connect_options(), **extra}
    return WSMan(options.pop("server"), **options)


def test_an_unknown_configuration_is_not_in_the_catalog(endpoint: Endpoint) -> None:
    with pytest.raises(WSManFaultError) as fault:
        RunspacePool(_wsman(endpoint), configuration_name="NoSuch.Configuration").open()
    assert fault.value.code == NOT_IN_CATALOG
    assert "(http://schemas.microsoft.com/powershell/NoSuch.Configuration)" in fault.value.reason
    assert endpoint.service.shell_count() == 0


def test_the_cmd_shell_gets_real_ids_and_answers_each_command_once(endpoint: Endpoint) -> None:
    with WinRS(_wsman(endpoint)) as shell:
        assert len(shell.id) == 36
        process = Process(shell, "ipconfig", ["/all"])
        process.invoke()
        assert (process.rc, process.stdout, process.stderr) == (1, b"", NOT_SUPPORTED)
        assert len(process.id) == 36
        with pytest.raises(WSManFaultError) as fault:
            shell.receive("stdout stderr", command_id=process.id)
        assert fault.value.code == INVALID_SELECTORS
        process.signal(SignalCode.TERMINATE)
    assert endpoint.service.requests["Receive"] <= 3


@pytest.mark.parametrize("authenticated", [False, True])
def test_identify_answers_with_and_without_credentials(
    endpoint: Endpoint, authenticated: bool
) -> None:
    answer = wsman_raw.post(
        endpoint,
        wsman_raw.envelope("", "", IDENTIFY),
        authenticated=authenticated,
        headers={} if authenticated else {"WSMANIDENTIFY": "unauthenticated"},
    )
    assert answer.status_code == 200
    response = ET.fromstring(answer.content).find("s:Body/wsmid:IdentifyResponse", soap.NS)
    assert response is not None
    assert response.findtext("wsmid:ProductVendor", namespaces=soap.NS) == "Microsoft Corporation"
    os_version = "10.0.22631" if authenticated else "0.0.0"
    version = response.findtext("wsmid:ProductVersion", namespaces=soap.NS)
    assert version == f"OS: {os_version} SP: 0.0 Stack: 3.0"


def test_the_service_configuration_can_be_read(endpoint: Endpoint) -> None:
    wsman = _wsman(endpoint)
    config = wsman.get(CONFIG, None)
    assert config.findtext("cfg:Config/cfg:MaxEnvelopeSizekb", namespaces=soap.NS) == "500"
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024


def test_another_media_type_is_refused(endpoint: Endpoint) -> None:
    request = wsman_raw.envelope(soap.GET, CONFIG)
    answer = wsman_raw.post(endpoint, request, content_type="text/xml")
    assert answer.status_code == 415


def test_a_body_past_max_envelope_size_is_refused(endpoint: Endpoint) -> None:
    request = wsman_raw.envelope(soap.GET, CONFIG, body="<x>" + "a" * 513_000 + "</x>")
    assert wsman_raw.post(endpoint, request).status_code == 413


def test_unencrypted_ntlm_over_http_is_refused_by_default() -> None:
    with serve(FakeHost(), auth="ntlm") as endpoint:
        wsman = _wsman(endpoint, encryption="never")
        with pytest.raises(AuthenticationError):
            RunspacePool(wsman).open()
        assert endpoint.service.shell_count() == 0


def test_the_cmd_shell_resource_is_in_the_catalog(endpoint: Endpoint) -> None:
    assert endpoint.service.config.shell_kind(CMD_SHELL) == "cmd"
    assert endpoint.service.config.shell_kind(CMD_SHELL + "x") is None
