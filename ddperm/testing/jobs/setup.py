"""Twin of the provisioning scripts: features_enable, bootloader_enable, docker_users_status,
docker_users_add, boot_state, restart (and lib/Setup.ps1).

Enabling a feature leaves it ``EnablePending`` (with its parents, as ``-All`` does) until
``FakeHost.restart()``; so does the boot entry's hypervisorlaunchtype for the hypervisor.
A restart runs ``host.restart_hooks`` when a transport registered some (the WinRM twin
goes away and comes back); otherwise it happens at once.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ddperm.components.setup import MEMBER_PATTERN, member_name_ok
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeGroup, FakeHost
from ddperm.testing.jobs.checks import (
    bootloader_status,
    feature_states,
    validate_feature_names,
)

PARENTS = {  # what Enable-WindowsOptionalFeature -All also enables
    "Microsoft-Hyper-V": "Microsoft-Hyper-V-All",
    "Microsoft-Hyper-V-Hypervisor": "Microsoft-Hyper-V",
    "Microsoft-Hyper-V-Services": "Microsoft-Hyper-V",
    "Microsoft-Hyper-V-Management-PowerShell": "Microsoft-Hyper-V-Tools-All",
}
_NOT_ENABLED = ("Disabled", "DisabledWithPayloadRemoved", "DisablePending")
_LOCAL_ACCOUNTS = "Microsoft.PowerShell.Commands"
NEW_GROUP_SID = "S-1-5-21-1004336348-1177238915-682003330-1010"  # what New-LocalGroup gets


@handles("features_enable")
def features_enable(host: FakeHost, FeatureName: list[str]) -> dict[str, object]:
    names = validate_feature_names("features_enable", FeatureName)
    before = feature_states(host, names)
    for feature in before:
        if feature["state"] == "Absent":
            raise ErrorRecord(
                f"This edition of Windows has no feature '{feature['name']}'.",
                "DdpermFeatureAbsent",
                "ObjectNotFound",
                "",
                "System.InvalidOperationException",
            )
    for feature in before:
        name = feature["name"]
        while name in host.features and host.features[name] in _NOT_ENABLED:
            host.features[name] = "EnablePending"
            host.restart_pending = True
            name = PARENTS.get(name, "")
    after = feature_states(host, names)
    return {
        "features": [
            {"name": b["name"], "before": b["state"], "after": a["state"]}
            for b, a in zip(before, after, strict=True)
        ],
        "restart_needed": host.restart_pending,
    }


@handles("bootloader_enable")
def bootloader_enable(host: FakeHost) -> dict[str, object]:
    before = bootloader_status(host)["launch_type"]
    changed = before != "Auto"
    host.hypervisorlaunchtype = "Auto"
    return {"before": before, "after": "Auto", "changed": changed, "restart_needed": changed}


def member_sids(host: FakeHost, group: FakeGroup) -> list[str]:
    """Twin of Get-DdpermGroupMemberSids: every member's SID as the WinNT provider reads it
    (objectSid), nothing looked up by name. A member is a known account's name or a bare SID
    (an account Windows can no longer name: deleted, an unreachable domain, Azure AD)."""
    sids = {name.lower(): sid for name, sid in host.accounts.items()}
    return [sids.get(member.lower(), member) for member in group.members]


def docker_users(host: FakeHost, names: list[str]) -> dict[str, object]:
    """Twin of Get-DdpermDockerUsers: membership is a comparison of raw SIDs, so members
    Windows cannot name (which break Get-LocalGroupMember on 5.1) never matter."""
    group = host.groups.get("docker-users")
    members = member_sids(host, group) if group else []
    accounts = []
    for name in names:
        try:
            sid: str | None = _translate(host, name)[1]
        except ErrorRecord:
            sid = None
        accounts.append({"name": name, "sid": sid, "member": sid is not None and sid in members})
    return {"exists": group is not None, "sid": group.sid if group else None, "members": accounts}


def _check_member_pattern(script: str, member: object) -> str:
    if not member_name_ok(member):
        raise ErrorRecord(
            f"Cannot validate argument on parameter 'Member'. The argument \"{member}\" does "
            f'not match the "^{MEMBER_PATTERN}\\z" pattern. Supply an argument that matches '
            f'"^{MEMBER_PATTERN}\\z" and try the command again.',
            f"ParameterArgumentValidationError,{script}",
            "InvalidData",
            "Member",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    return member


@handles("docker_users_status")
def docker_users_status(host: FakeHost, Member: list[str]) -> dict[str, object]:
    names = [Member] if isinstance(Member, str) else list(Member)
    if not 1 <= len(names) <= 32:
        raise ErrorRecord(
            "Cannot validate argument on parameter 'Member'. The parameter requires at least 1 "
            f"value(s) and no more than 32 value(s) - {len(names)} value(s) were provided.",
            "ParameterArgumentValidationError,docker_users_status",
            "InvalidData",
            "Member",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    return docker_users(host, [_check_member_pattern("docker_users_status", n) for n in names])


def _access_denied(command: str) -> ErrorRecord:
    """What New-LocalGroup / Add-LocalGroupMember write for a caller that is not elevated:
    the module's AccessDeniedException, its error id the type name without "Exception"."""
    return ErrorRecord(
        "Access denied.",
        f"AccessDenied,{_LOCAL_ACCOUNTS}.{command}Command",
        "PermissionDenied",
        "",
        f"{_LOCAL_ACCOUNTS}.AccessDeniedException",
    )


def _translate(host: FakeHost, member: str) -> tuple[str, str]:
    """NTAccount.Translate: an exact DOMAIN\\user, or a bare user name found once."""
    for name, sid in host.accounts.items():
        if name.lower() == member.lower() or (
            "\\" not in member and name.lower().endswith("\\" + member.lower())
        ):
            return name, sid
    raise ErrorRecord(
        'Exception calling "Translate" with "1" argument(s): "Some or all identity '
        'references could not be translated."',
        "IdentityNotMappedException",
        "NotSpecified",
        "",
        "System.Management.Automation.MethodInvocationException",
    )


@handles("docker_users_add")
def docker_users_add(host: FakeHost, Member: str) -> dict[str, object]:
    _check_member_pattern("docker_users_add", Member)
    created = False
    if "docker-users" not in host.groups:
        if not host.caller.elevated:
            raise _access_denied("NewLocalGroup")
        host.groups["docker-users"] = FakeGroup("docker-users", NEW_GROUP_SID)
        created = True
    name, sid = _translate(host, Member)
    group = host.groups["docker-users"]
    added = sid not in member_sids(host, group)
    if added:
        if not host.caller.elevated:
            raise _access_denied("AddLocalGroupMember")
        group.members.append(name)
    return {
        "group_created": created,
        "member_added": added,
        "member_sid": sid,
        "group": docker_users(host, [Member]),
    }


def round_trip(moment: datetime) -> str:
    """.NET's round-trip ("o") form of a UTC DateTime, what ``.ToUniversalTime().ToString('o')``
    writes: seven fraction digits (100 ns ticks) and ``Z``, e.g. 2026-12-04T16:28:15.1234560Z."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}0Z"


def boot_state(host: FakeHost) -> dict[str, object]:
    """Twin of Get-DdpermBootState (LastBootUpTime moves by ``host.boot_time_drift`` on
    every query, as Windows' does when its clock is adjusted)."""
    host.last_boot += host.boot_time_drift
    return {
        "last_boot": round_trip(host.last_boot),
        "restart_pending": host.restart_pending,
        "elevated": host.caller.elevated,
    }


@handles("boot_state")
def boot_state_job(host: FakeHost) -> dict[str, object]:
    return boot_state(host)


@handles("restart")
def restart(host: FakeHost, DelaySeconds: int) -> dict[str, object]:
    if not 5 <= int(DelaySeconds) <= 600:
        side = (
            "less than the minimum allowed range of 5"
            if DelaySeconds < 5
            else ("greater than the maximum allowed range of 600")
        )
        raise ErrorRecord(
            f"Cannot validate argument on parameter 'DelaySeconds'. The {DelaySeconds} argument "
            f"is {side}. Supply an argument that is within the range and then try the command "
            "again.",
            "ParameterArgumentValidationError,restart",
            "InvalidData",
            "DelaySeconds",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    if not host.caller.elevated:  # shutdown.exe exits 5 (access denied)
        raise ErrorRecord(
            "shutdown.exe refused to schedule the restart (exit code 5).",
            "DdpermRestartRefused",
            "InvalidOperation",
            "",
            "System.InvalidOperationException",
        )
    result = {
        "scheduled": True,
        "last_boot": boot_state(host)["last_boot"],
        "delay_seconds": int(DelaySeconds),
    }
    host.restart_delay = int(DelaySeconds)
    if host.restart_hooks:
        for hook in host.restart_hooks:
            hook(int(DelaySeconds))
    else:
        host.restart(int(DelaySeconds))
    return result
