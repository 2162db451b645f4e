"""ddperm's JEA endpoint on the WinRM twin: install over the wire through the WinRM restart,
a non-admin auditor's fleet audit, an operator's provisioning, and what the endpoint refuses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import TaggedValue
from pypsrp.wsman import WSMan

import ddperm
from ddperm.errors import AuthenticationError, HostError
from ddperm.fleet import Target, audit
from ddperm.jea import endpoint
from ddperm.jea.module import Role
from ddperm.provision import DesiredState, apply, plan
from ddperm.testing import FakeHost
from ddperm.testing.jobs.hyperv import seed_docker_vm
from ddperm.testing.jobs.jea import MODULE_ROOT
from ddperm.testing.winrm import Endpoint, serve

AUDITOR, OPERATOR = r"DEV-PC01\alice", r"CORP\bob"
ACCOUNTS = {AUDITOR: "Alice-Passw0rd!", OPERATOR: "Bob-Passw0rd!"}


def _installed(endpoint_: Endpoint) -> None:
    with ddperm.connect(**endpoint_.connect_options()) as admin:
        endpoint.install(admin, members={Role.AUDITOR: [AUDITOR], Role.OPERATOR: [OPERATOR]})
        assert admin.runner.pool_opens == 2  # the install's pool died with WinRM; status reopened
    endpoint_.fake.calls.clear()


@pytest.fixture
def served() -> Iterator[Endpoint]:
    with serve(FakeHost(), accounts=ACCOUNTS) as served:
        _installed(served)
        yield served


def _pool(served: Endpoint, user: str) -> RunspacePool:
    options = served.connect_options(user)
    wsman = WSMan(options["server"], port=options["port"], ssl=False, auth="basic",
                  username=user, password=options["password"], encryption="never")  # fmt: skip
    return RunspacePool(wsman, configuration_name="ddperm")


def test_a_non_admin_auditor_audits_a_fleet_through_the_endpoint() -> None:
    broken = FakeHost()
    broken.hypervisorlaunchtype = "Off"
    with ExitStack() as stack:
        endpoints = [stack.enter_context(serve(f, accounts=ACCOUNTS)) for f in (FakeHost(), broken)]
        for served in endpoints:
            _installed(served)
        as_auditor = [
            Target(name=f"pc{i}", configuration_name="ddperm", **ep.connect_options(AUDITOR))
            for i, ep in enumerate(endpoints)
        ]
        as_admin = [Target(name=f"pc{i}", **ep.connect_options()) for i, ep in enumerate(endpoints)]
        through_jea = audit(as_auditor, concurrency=2, deadline=30, progress=False)
        plain = audit(as_admin, concurrency=2, deadline=30, progress=False)
    assert [r.outcome for r in through_jea.results] == [r.outcome for r in plain.results]
    assert through_jea.failing_checks() == plain.failing_checks()
    assert {r.outcome for r in through_jea.results} <= {"healthy", "unhealthy"}
    assert through_jea.failing_checks()["bootloader"] == 1


def test_an_operator_provisions_a_fresh_machine_through_the_endpoint() -> None:
    with serve(FakeHost.fresh(), accounts=ACCOUNTS, restart_downtime=0.3) as served:
        _installed(served)
        desired = DesiredState(docker_users=("alice",))
        options = served.connect_options(OPERATOR)
        with ddperm.connect(**options, configuration_name="ddperm") as host:
            result = apply(plan(host, desired), allow_reboot=True, progress=False)
            assert result.ok and result.rebooted
            assert plan(host, desired).steps == ()
        assert served.fake.groups["docker-users"].members == [r"DEV-PC01\alice"]


def test_script_text_is_refused_and_nothing_runs(served: Endpoint) -> None:
    with _pool(served, OPERATOR) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-DdpermHealth; Hyper-V\\Get-VM | Hyper-V\\Stop-VM")
        ps.invoke()
    assert ps.had_errors
    error = ps.streams.error[0]
    assert (error.fq_error, error.reason) == ("ScriptsNotAllowed", "ParseException")
    assert served.fake.calls == []


@pytest.mark.parametrize("command", ["Get-VM", "Invoke-Expression", "Start-DdpermVM"])
def test_an_auditor_calling_a_hidden_command_is_refused(served: Endpoint, command: str) -> None:
    seed_docker_vm(served.fake)
    with _pool(served, AUDITOR) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet(command).add_parameter("VMName", "DockerDesktopVM")
        ps.invoke()
    assert ps.streams.error[0].fq_error == "CommandNotFoundException"
    assert served.fake.calls == []
    assert served.fake.vms[0].state == "Off"


def test_a_script_block_parameter_arrives_as_text_and_fails_validation(served: Endpoint) -> None:
    seed_docker_vm(served.fake, state="Running")
    with _pool(served, OPERATOR) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Stop-DdpermVM").add_parameter("VMName", TaggedValue("SBK", "Get-VM"))
        ps.invoke()
    assert ps.streams.error[0].fq_error == "ParameterArgumentValidationError,Stop-DdpermVM"
    assert served.fake.calls == []
    assert served.fake.vms[0].state == "Running"


def test_a_caller_in_no_role_is_denied_the_session(served: Endpoint) -> None:
    with (
        ddperm.connect(**served.connect_options(), configuration_name="ddperm") as host,
        pytest.raises(AuthenticationError, match="Access is denied"),
    ):
        host.version()


def test_an_unknown_configuration_name_is_refused_by_winrm(served: Endpoint) -> None:
    with (
        ddperm.connect(**served.connect_options(AUDITOR), configuration_name="nosuch") as host,
        pytest.raises(HostError, match="was not found in the WS-Management catalog"),
    ):
        host.version()


def test_a_tampered_module_is_refused_by_the_endpoint_and_by_status(served: Endpoint) -> None:
    psrc = MODULE_ROOT + r"\RoleCapabilities\DdpermAuditor.psrc"
    served.fake.fs.write_bytes(psrc, served.fake.fs.read_bytes(psrc) + b"# ")
    with (
        ddperm.connect(**served.connect_options(AUDITOR), configuration_name="ddperm") as host,
        pytest.raises(HostError) as refused,
    ):
        host.health()
    assert refused.value.error_id == "DdpermCatalogMismatch"
    assert served.fake.calls == []
    with ddperm.connect(**served.connect_options()) as admin:
        problems = endpoint.status(admin).problems()
    assert "the module does not match its file catalog (ValidationFailed)" in problems


def test_jea_status_and_uninstall_on_the_command_line(served: Endpoint) -> None:
    from typer.testing import CliRunner

    from ddperm.cli import (
        app,
        commands,  # noqa: F401  (registers every command)
    )

    options = served.connect_options()
    where = [options["server"], "--port", str(options["port"]), "--http", "--auth", "basic"]
    where += ["--encryption", "never"]
    login = ["--user", options["username"], "--password", options["password"]]
    assert CliRunner().invoke(app, ["jea", "status", *where, *login]).exit_code == 0
    psm1 = MODULE_ROOT + r"\Ddperm.psm1"
    served.fake.fs.write_bytes(psm1, served.fake.fs.read_bytes(psm1) + b"\n")
    done = CliRunner().invoke(app, ["jea", "status", *where, *login, "--json"])
    assert done.exit_code == 1
    assert '"catalog": "ValidationFailed"' in done.output
    done = CliRunner().invoke(app, ["jea", "uninstall", *where, *login])
    assert done.exit_code == 0, done.output
    assert served.fake.session_configurations == {}
    assert not served.fake.fs.exists(MODULE_ROOT)
