"""ddperm's JEA endpoint on the in-process twin: roles, NoLanguage, the virtual account,
transcripts, the catalog and ACL checks, and install / status / uninstall."""

from __future__ import annotations

import pytest

from ddperm.errors import AuthenticationError, HostError, PolicyError
from ddperm.jea import endpoint
from ddperm.jea.module import Role
from ddperm.provision import DesiredState, apply, plan
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fs import USERS
from ddperm.testing.jea import install_jea, jea_twin_host, open_session
from ddperm.testing.jobs.hyperv import seed_docker_vm
from ddperm.testing.jobs.jea import MODULE_ROOT, TRANSCRIPTS

AUDITOR = r"DEV-PC01\alice"
OPERATOR = r"CORP\bob"


@pytest.fixture
def fake() -> FakeHost:
    fake = FakeHost()
    install_jea(fake, {Role.AUDITOR: [AUDITOR], Role.OPERATOR: [OPERATOR]})
    fake.calls.clear()
    return fake


def test_an_auditor_who_is_no_administrator_reads_with_the_virtual_accounts_rights(
    fake: FakeHost,
) -> None:
    fake.caller.elevated = False  # how the twin's plain sessions run: it must not matter here
    host = jea_twin_host(fake, AUDITOR)
    report = host.features.check()  # DISM needs elevation; the virtual account has it
    assert {f.name for f in report.features} >= {"Microsoft-Hyper-V", "Containers"}
    assert host.health().checks["features"].status == "ok"
    assert fake.calls[0][0] == "features_check"
    assert fake.caller.elevated is False  # the seeded caller is back after each call


def test_the_transcript_names_the_user_and_the_virtual_account(fake: FakeHost) -> None:
    host = jea_twin_host(fake, AUDITOR)
    host.vm.info()
    [transcript] = [e.path for e in fake.fs.walk(TRANSCRIPTS) if e.path.endswith(".txt")]
    text = fake.fs.read_bytes(transcript).decode()
    assert f"Username: {AUDITOR}" in text
    assert "RunAs User: WinRM Virtual Users\\WinRM VA_" in text
    assert 'PS>CommandInvocation(Get-DdpermVMInfo): "Get-DdpermVMInfo"' in text
    assert '>> ParameterBinding(Get-DdpermVMInfo): name="VMName"; value="DockerDesktopVM"' in text
    assert USERS not in fake.fs.acl(transcript)  # only SYSTEM and administrators


@pytest.mark.parametrize(
    "change",
    [
        lambda host: host.vm.start(),
        lambda host: host.engine.start(),
        lambda host: host.setup.add_docker_user("alice"),
    ],
)
def test_an_auditor_cannot_run_an_operator_job(fake: FakeHost, change: object) -> None:
    seed_docker_vm(fake)
    host = jea_twin_host(fake, AUDITOR)
    with pytest.raises(HostError) as refused:
        change(host)  # type: ignore[operator]
    assert refused.value.error_id == "CommandNotFoundException"
    assert fake.calls == []
    assert fake.vms[0].state == "Off"


@pytest.mark.parametrize("command", ["Get-VM", "Invoke-Expression", "Stop-DdpermVM", "Add-Type"])
def test_hidden_commands_are_not_found(fake: FakeHost, command: str) -> None:
    session = open_session(fake, AUDITOR)
    with pytest.raises(ErrorRecord) as refused:
        session.invoke(command, {})
    assert refused.value.fqid == "CommandNotFoundException"
    assert refused.value.message.startswith(f"The term '{command}' is not recognized")
    assert fake.calls == []


def test_script_text_is_refused_by_the_no_language_session(fake: FakeHost) -> None:
    session = open_session(fake, OPERATOR)
    with pytest.raises(ErrorRecord) as refused:
        session.run_script("Get-DdpermHealth; Hyper-V\\Get-VM")
    assert (refused.value.fqid, refused.value.category) == ("ScriptsNotAllowed", "ParserError")
    assert refused.value.exception_type == "System.Management.Automation.ParseException"
    assert fake.calls == []


def test_a_script_block_as_a_parameter_is_only_text_and_fails_validation(fake: FakeHost) -> None:
    session = open_session(fake, OPERATOR)
    with pytest.raises(ErrorRecord) as refused:
        session.invoke("Start-DdpermVM", {"VMName": "{ Hyper-V\\Get-VM | Hyper-V\\Stop-VM }"})
    assert refused.value.fqid == "ParameterArgumentValidationError,Start-DdpermVM"
    assert fake.calls == []


def test_a_caller_in_no_role_is_refused_the_connection(fake: FakeHost) -> None:
    with pytest.raises(AuthenticationError, match="Access is denied"):
        jea_twin_host(fake, r"DEV-PC01\dev").version()


def test_the_endpoint_refuses_everything_once_a_module_file_changed(fake: FakeHost) -> None:
    psm1 = MODULE_ROOT + r"\Ddperm.psm1"
    fake.fs.write_bytes(psm1, fake.fs.read_bytes(psm1) + b"\nfunction Get-Backdoor {}\n")
    with pytest.raises(HostError) as refused:
        jea_twin_host(fake, AUDITOR).version()
    assert refused.value.error_id == "DdpermCatalogMismatch"
    assert fake.calls == []
    found = endpoint.status(twin_host(fake))
    assert found.catalog == "ValidationFailed"
    assert "Ddperm.psm1 is not the file this ddperm generates" in found.problems()


def test_a_role_capability_a_user_can_edit_is_refused(fake: FakeHost) -> None:
    psrc = MODULE_ROOT + r"\RoleCapabilities\DdpermAuditor.psrc"
    fake.fs.set_acl(psrc, {"S-1-5-18": "FullControl", USERS: "Modify"})
    with pytest.raises(HostError) as refused:
        jea_twin_host(fake, AUDITOR).version()
    assert (refused.value.error_id, refused.value.target) == ("DdpermUnsafeAcl", psrc)
    assert fake.calls == []
    problems = endpoint.status(twin_host(fake)).problems()
    assert any(p.startswith(psrc) and USERS in p for p in problems)


def test_an_edited_role_capability_takes_effect_and_the_catalog_catches_it(fake: FakeHost) -> None:
    psrc = MODULE_ROOT + r"\RoleCapabilities\DdpermAuditor.psrc"
    text = fake.fs.read_bytes(psrc).replace(
        b"'Get-DdpermVersion'", b"'Get-DdpermVersion', 'Stop-DdpermVM'"
    )
    fake.fs.write_bytes(psrc, text)
    seed_docker_vm(fake, state="Running")
    with pytest.raises(HostError) as refused:
        jea_twin_host(fake, AUDITOR).vm.stop()
    assert refused.value.error_id == "DdpermCatalogMismatch"  # visible now, but never runs
    assert fake.vms[0].state == "Running"


def test_an_operator_provisions_a_fresh_machine_through_the_endpoint() -> None:
    fake = FakeHost.fresh()
    install_jea(fake, {Role.OPERATOR: [OPERATOR]})
    host = jea_twin_host(fake, OPERATOR)
    desired = DesiredState(docker_users=("alice",))
    result = apply(plan(host, desired), allow_reboot=True, progress=False)
    assert result.ok and result.rebooted
    assert plan(host, desired).steps == ()
    assert fake.groups["docker-users"].members == [r"DEV-PC01\alice"]


def test_install_needs_an_administrator_and_changes_nothing_otherwise() -> None:
    fake = FakeHost()
    fake.caller.elevated = False
    with pytest.raises(HostError) as refused:
        endpoint.install(twin_host(fake), members={Role.AUDITOR: [AUDITOR]})
    assert refused.value.error_id == "UnauthorizedAccessException"
    assert not fake.fs.exists(MODULE_ROOT)
    assert fake.session_configurations == {}


def test_install_status_and_uninstall_over_plain_remoting() -> None:
    fake = FakeHost()
    admin = twin_host(fake)
    found = endpoint.install(admin, members={Role.AUDITOR: [AUDITOR]})
    assert found.problems() == []
    assert found.catalog == "Valid"
    assert found.configuration is not None
    assert {d.principal: d.role_capabilities for d in found.configuration.role_definitions} == {
        r"DEV-PC01\ddperm-auditors": ["DdpermAuditor"],
        r"DEV-PC01\ddperm-operators": ["DdpermOperator"],
        r"DEV-PC01\ddperm-admins": ["DdpermAdministrator"],
    }
    assert jea_twin_host(fake, AUDITOR).version().host.computer_name == "DEV-PC01"
    gone = endpoint.uninstall(admin)
    assert not gone.installed and gone.configuration is None
    assert fake.groups["ddperm-auditors"].members == [AUDITOR]  # groups stay
    with pytest.raises(Exception, match="ddperm session configuration"):
        jea_twin_host(fake, AUDITOR).version()


@pytest.mark.parametrize("bad", ["*", "a;b", "DOM\\us<er", "", "x" * 70])
def test_group_and_member_names_are_checked_before_anything_runs(bad: str) -> None:
    fake = FakeHost()
    with pytest.raises(PolicyError):
        endpoint.install(twin_host(fake), groups={Role.AUDITOR: bad})
    with pytest.raises(PolicyError):
        endpoint.install(twin_host(fake), members={Role.OPERATOR: [bad]})
    assert fake.calls == []


def test_the_endpoint_cannot_install_or_remove_itself(fake: FakeHost) -> None:
    auditor = jea_twin_host(fake, AUDITOR)
    with pytest.raises(PolicyError, match="jea_install"):
        endpoint.install(auditor)
    with pytest.raises(PolicyError, match="jea_uninstall"):
        endpoint.uninstall(auditor)
    assert endpoint.status(auditor).problems() == []  # an auditor may look at it
