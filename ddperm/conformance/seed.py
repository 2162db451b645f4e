"""Builds a twin (``FakeHost``) from a real host's captured answers.

Each read job's answer sets the state the twin reads for it (OS and PowerShell version,
boot time, elevation, features, Hyper-V, boot entry, engine service, hosts file, policy
cache, docker-users, the VM and its disk). What an answer cannot set (the twin has no
such state, or the answer was an error the twin cannot be put into) becomes a ``Note``
for that job and path: its values are then not compared, and the report lists it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ddperm import hostsfile
from ddperm.components.checks import HRESULT_CLASS_NOT_REGISTERED
from ddperm.conformance.capture import Outcome
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import (
    HOSTS_PATH,
    HYPERV_ADMINISTRATORS,
    FakeGroup,
    FakeHost,
    FakeService,
    FakeVHD,
    FakeVM,
    SessionConfiguration,
)
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, FsError, split
from ddperm.testing.jobs.checks import DISM_GET_FQID, ELEVATION_REQUIRED
from ddperm.testing.jobs.policy import POLICY_FILE, policy_cache

WHOLE = "$"
# health.ps1 answers each check with the document of the single-check script named here.
HEALTH_PARTS = {
    "hyperv": "hyperv_status",
    "bootloader": "bootloader_status",
    "features": "features_check",
    "vm": "vm_info",
    "engine": "engine_status",
    "hosts_file": "hosts_status",
    "policy": "policy_status",
}
_DATETIME = TypeAdapter(datetime)
# FakeVM / FakeVHD fields set from vm_info's and vhd_size's keys of the same meaning.
_VM_FIELDS = ("name", "state", "vm_id", "generation", "processor_count", "memory_startup_bytes")
_VHD_FIELDS = (
    "format",
    "type",
    "minimum_size",
    "block_size",
    "logical_sector_size",
    "physical_sector_size",
    "attached",
)
_GET_VM = "Microsoft.HyperV.PowerShell.Commands.GetVM"


class Note(BaseModel):
    """An answer (``path`` in ``job``'s document, ``$`` for all of it) the twin was not
    given, and why; its values are not compared."""

    model_config = ConfigDict(frozen=True)

    job: str
    path: str
    reason: str


@dataclass
class Seeded:
    """The twin built from the answers, and what it could not be told."""

    fake: FakeHost
    notes: list[Note]


class _Seeder:
    def __init__(self, answers: Mapping[str, Outcome]) -> None:
        self.answers = answers
        self.fake = FakeHost()
        self.notes: list[Note] = []
        self.features_known = False

    def doc(self, job: str) -> dict[str, Any] | None:
        """The job's document, when it answered with one (an object)."""
        outcome = self.answers.get(job)
        if outcome is None or outcome.kind != "result" or not isinstance(outcome.document, dict):
            return None
        return outcome.document

    def error_id(self, job: str) -> str | None:
        outcome = self.answers.get(job)
        return outcome.error.fully_qualified_error_id if outcome and outcome.error else None

    def note(self, jobs: tuple[str, ...], path: str, reason: str) -> None:
        """Record an unseeded answer for each job (and health's part that repeats it)."""
        for job in jobs:
            self.notes.append(Note(job=job, path=path, reason=reason))
            for part, single in HEALTH_PARTS.items():
                if single == job:
                    inner = f"$.{part}" if path == WHOLE else f"$.{part}.result{path[1:]}"
                    self.notes.append(Note(job="health", path=inner, reason=reason))

    def unmodelled(self, jobs: tuple[str, ...], source: str) -> None:
        """``source`` answered with something the twin cannot be put into."""
        outcome = self.answers.get(source)
        if outcome is None:
            what = "was not asked"
        elif outcome.kind == "error" and outcome.error is not None:
            what = f"failed with {outcome.error.fully_qualified_error_id}"
        else:
            what = f"gave {outcome.kind}"
        self.note(jobs, WHOLE, f"{source} {what}, a state the seed cannot give the twin")

    # -- one step per answer, in an order where later steps may rely on earlier ones --

    def policy(self) -> None:
        """First, while the default caller may still write: the twin caches it itself."""
        status, read = self.doc("policy_status"), self.doc("policy_read")
        if status is None:
            self.unmodelled(("policy_status", "policy_read"), "policy_status")
            return
        problem = status.get("problem")
        if problem == "DdpermPolicyMissing":
            return
        if problem is None and read is not None:
            policy_cache(
                self.fake,
                Organization=read["organization"],
                AllowedRegistries=read["allowed_registries"],
                FetchedAt=read["fetched_at"],
            )
            return
        corrupt = _POLICY_PROBLEMS.get(str(problem))
        if corrupt is None:
            self.unmodelled(("policy_status", "policy_read"), "policy_status")
            return
        policy_cache(
            self.fake,
            Organization="example",
            AllowedRegistries=["docker.io"],
            FetchedAt="2026-01-01T00:00:00Z",
        )
        corrupt(self.fake)

    def version(self) -> None:
        doc = self.doc("version")
        if doc is None:
            self.unmodelled(("version",), "version")
            return
        os = self.fake.os
        os.caption, os.version = doc["os_caption"], doc["os_version"]
        os.build, os.powershell_version = doc["os_build"], doc["powershell_version"]
        os.computer_name = doc["computer_name"]
        edition = doc.get("powershell_edition")
        if edition in ("Desktop", "Core"):
            self.fake.edition = edition  # the twin models both (ddperm.testing.editions)
        else:
            reason = f"the twin models the Desktop and Core editions, not {edition!r}"
            self.note(("version",), "$.powershell_edition", reason)

    def boot_state(self) -> None:
        doc = self.doc("boot_state")
        if doc is None:
            self.unmodelled(("boot_state",), "boot_state")
            return
        try:
            self.fake.last_boot = _DATETIME.validate_python(doc["last_boot"])
        except ValidationError:
            self.note(("boot_state",), "$.last_boot", "not a date and time the seed can read")
        self.fake.restart_pending = bool(doc["restart_pending"])
        self.fake.caller.elevated = bool(doc["elevated"])

    def features(self) -> None:
        doc = self.doc("features_check")
        if doc is None:
            if self.error_id("features_check") != DISM_GET_FQID:  # DISM: from the caller
                self.unmodelled(("features_check",), "features_check")
            return
        known = {f["name"]: f["state"] for f in doc["features"] if f["state"] != "Absent"}
        self.fake.features = known
        self.features_known = True

    def hyperv(self) -> None:
        doc = self.doc("hyperv_status")
        if doc is None:
            self.unmodelled(("hyperv_status",), "hyperv_status")
            return
        failure = doc.get("feature_error")
        if isinstance(failure, dict) and failure.get("hresult") == HRESULT_CLASS_NOT_REGISTERED:
            self.fake.dism_com_registered = False
        if doc["feature_state"] is not None and not self.features_known:
            self.fake.features["Microsoft-Hyper-V"] = doc["feature_state"]
        self.fake.hypervisor_present = bool(doc["hypervisor_present"])
        if doc["vmms_status"] is None:
            self.fake.services.pop("vmms", None)
        else:
            self.fake.services["vmms"].status = doc["vmms_status"]

    def bootloader(self) -> None:
        doc = self.doc("bootloader_status")
        if doc is None:
            if self.error_id("bootloader_status") != ELEVATION_REQUIRED:
                self.unmodelled(("bootloader_status",), "bootloader_status")
            return  # the caller is not elevated (seeded from boot_state)
        launch = doc["launch_type"]
        if launch in ("Auto", "Off"):
            self.fake.hypervisorlaunchtype = launch
        elif launch == "NotSet":
            self.fake.hypervisorlaunchtype = None
        else:
            self.note(("bootloader_status",), WHOLE, f"the twin has no launch type {launch!r}")

    def engine(self) -> None:
        doc = self.doc("engine_status")
        if doc is None:
            self.unmodelled(("engine_status",), "engine_status")
        elif not doc["installed"]:
            self.fake.services.pop("docker", None)
        else:
            self.fake.services["docker"] = FakeService(
                doc["name"], doc["display_name"], doc["status"], doc["start_type"]
            )

    def hosts(self) -> None:
        jobs = ("hosts_read", "hosts_status")
        doc, fs = self.doc("hosts_read"), self.fake.fs
        if doc is None:
            state = _HOSTS_ERRORS.get(str(self.error_id("hosts_read")))
            if state is None:
                self.unmodelled(jobs, "hosts_read")
            else:
                state(self.fake)
            return
        if str(doc["path"]) != HOSTS_PATH:
            self.note(jobs, "$.path", f"the twin's hosts file is always at {HOSTS_PATH}")
        if not doc["exists"]:
            fs.remove(HOSTS_PATH)
            return
        try:
            data = base64.b64decode(str(doc["content_base64"]), validate=True)
        except binascii.Error:
            self.unmodelled(jobs, "hosts_read")
            return
        fs.write_bytes(HOSTS_PATH, data)
        fs.file_data(HOSTS_PATH).readonly = bool(doc["readonly"])

    def docker_users(self) -> None:
        doc = self.doc("docker_users_status")
        if doc is None:
            if "docker_users_status" in self.answers:
                self.unmodelled(("docker_users_status",), "docker_users_status")
            return
        members = doc["members"]
        self.fake.accounts = {m["name"]: m["sid"] for m in members if m["sid"] is not None}
        self.fake.groups.pop("docker-users", None)
        if doc["exists"]:
            inside = [m["name"] for m in members if m["member"]]
            self.fake.groups["docker-users"] = FakeGroup("docker-users", doc["sid"], inside)

    def vm(self) -> None:
        doc = self.doc("vm_info")
        if doc is None:
            if self.error_id("vm_info") == "CommandNotFoundException" and not self.features_known:
                self.fake.features["Microsoft-Hyper-V-Management-PowerShell"] = "Disabled"
            elif not (self.error_id("vm_info") or "").endswith(f",{_GET_VM}"):
                self.unmodelled(("vm_info", "vhd_size"), "vm_info")
            return
        if not self.features_known:  # Get-VM answered: the module and Hyper-V are there
            for name in ("Microsoft-Hyper-V", "Microsoft-Hyper-V-Management-PowerShell"):
                self.fake.features[name] = "Enabled"
        caller = self.fake.caller
        if not (caller.elevated and ADMINISTRATORS in caller.groups):
            caller.groups.add(HYPERV_ADMINISTRATORS)  # how else Get-VM answers a non-admin
        info = doc["vm"]
        if info is None:
            return
        fields = {name: info[name] for name in _VM_FIELDS}
        self.fake.vms = [FakeVM(**fields, vhd_path=info["vhd_path"] or "")]

    def vhd(self) -> None:
        doc = self.doc("vhd_size")
        if doc is None:
            if self.error_id("vhd_size") not in _VHD_ERRORS_FROM_STATE:
                self.unmodelled(("vhd_size",), "vhd_size")
            return
        path = str(doc["path"])
        drive = split(path)[0]
        if drive not in self.fake.fs.volumes:
            self.fake.fs.add_volume(drive)
        self.fake.fs.create_sized_file(path, int(doc["file_size"]))
        fields = {name: doc[name] for name in _VHD_FIELDS}
        self.fake.vhds[path.lower()] = FakeVHD(path, doc["virtual_size"], **fields)


def _jea(seeder: _Seeder) -> None:
    """An installed JEA endpoint: the twin gets the one this ddperm installs (installed by
    an administrator), so a host with another endpoint shows up as a difference."""
    from ddperm.testing.jea import install_jea

    doc = seeder.doc("jea_status")
    if doc is None or not doc.get("installed"):
        return
    install_jea(seeder.fake)
    config = doc.get("configuration")
    if config is not None:  # registered as the host reports it
        seeder.fake.session_configurations[config["name"].lower()] = SessionConfiguration(
            name=config["name"],
            session_type=config["session_type"],
            language_mode=config["language_mode"],
            run_as_virtual_account=config["run_as_virtual_account"],
            transcript_directory=config["transcript_directory"],
            role_definitions={
                d["principal"]: tuple(d["role_capabilities"]) for d in config["role_definitions"]
            },
        )
    else:
        seeder.fake.session_configurations.clear()


def _rewrite_policy(fake: FakeHost, document: bytes) -> None:
    fake.fs.write_bytes(POLICY_FILE, document)


def _policy_document(policy: str, sha256: str | None = None) -> bytes:
    digest = sha256 or hashlib.sha256(policy.encode("utf-8")).hexdigest()
    return json.dumps({"format": 1, "sha256": digest, "policy": policy}).encode("utf-8")


_INVALID_POLICY = json.dumps({"organization": "", "allowed_registries": [], "fetched_at": ""})
# How the twin's read_cache reaches each problem, starting from a good cache.
_POLICY_PROBLEMS: dict[str, Callable[[FakeHost], None]] = {
    "DdpermPolicyUntrusted": lambda fake: fake.fs.set_owner(POLICY_FILE, fake.caller.sid),
    "DdpermPolicyUnreadable": lambda fake: _rewrite_policy(fake, b"not a policy document"),
    "DdpermPolicyTampered": lambda fake: _rewrite_policy(fake, _policy_document("{}", "0" * 64)),
    "DdpermPolicyInvalid": lambda fake: _rewrite_policy(fake, _policy_document(_INVALID_POLICY)),
}


def _oversized(fake: FakeHost) -> None:
    fake.fs.write_bytes(HOSTS_PATH, b"#" * (hostsfile.MAX_BYTES + 1))


def _locked(fake: FakeHost) -> None:
    fake.fs.file_data(HOSTS_PATH).locked = True


# The hosts file states behind hosts_read's own errors.
_HOSTS_ERRORS: dict[str, Callable[[FakeHost], None]] = {
    "DdpermHostsLocked": _locked,
    "DdpermHostsAccessDenied": lambda fake: fake.fs.set_acl(HOSTS_PATH, {SYSTEM: "FullControl"}),
    "DdpermHostsTooLarge": _oversized,
}
# vhd_size errors that follow from state vm_info already seeded (no disk, no VM, no access).
_VHD_ERRORS_FROM_STATE = {
    "DdpermVMDiskCount",
    "ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD",
    "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
    f"ObjectNotFound,{_GET_VM}",
    "CommandNotFoundException",
}
_STEPS: tuple[tuple[Callable[[_Seeder], None], tuple[str, ...]], ...] = (
    (_Seeder.policy, ("policy_status", "policy_read")),
    (_Seeder.version, ("version",)),
    (_Seeder.boot_state, ("boot_state",)),
    (_Seeder.features, ("features_check",)),
    (_Seeder.hyperv, ("hyperv_status",)),
    (_Seeder.bootloader, ("bootloader_status",)),
    (_Seeder.engine, ("engine_status",)),
    (_Seeder.hosts, ("hosts_read", "hosts_status")),
    (_Seeder.docker_users, ("docker_users_status",)),
    (_Seeder.vm, ("vm_info", "vhd_size")),
    (_Seeder.vhd, ("vhd_size",)),
    (_jea, ("jea_status",)),
)


def seed(answers: Mapping[str, Outcome]) -> Seeded:
    """A twin in the state the answers describe, and notes for what it could not be told."""
    seeder = _Seeder(answers)
    for step, jobs in _STEPS:
        try:
            step(seeder)
        except (KeyError, TypeError, ValueError, AttributeError, FsError, ErrorRecord) as exc:
            # An answer without the fields the scripts promise: itself a difference, which
            # the comparison reports; the seed goes on with the other answers.
            reason = f"the seed could not use the answer ({type(exc).__name__}: {exc})"
            seeder.note(jobs, WHOLE, reason)
    return Seeded(seeder.fake, seeder.notes)
