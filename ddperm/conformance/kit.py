"""The conformance run: the read-only jobs on a real host, the same on a twin seeded from
its answers, and the report of every difference."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from ddperm.components.system import ddperm_version
from ddperm.conformance.capture import Outcome, capture
from ddperm.conformance.compare import Difference, compare
from ddperm.conformance.jobs import Job, read_jobs
from ddperm.conformance.redact import Redactor
from ddperm.conformance.report import ConformanceReport, HostInfo, JobReport, Side
from ddperm.conformance.seed import Note, seed
from ddperm.host import Host
from ddperm.testing.runner import TwinRunner


def _host_info(transport: str, version: Outcome | None) -> HostInfo:
    doc = version.document if version is not None else None
    if not isinstance(doc, dict):
        return HostInfo(transport=transport)
    fields = ("computer_name", "os_caption", "os_version", "os_build", "powershell_version")
    known = {f: doc.get(f) for f in (*fields, "powershell_edition")}
    return HostInfo.model_validate({"transport": transport, **known})


def _job_report(
    job: Job, real: Outcome | None, twin: Outcome | None, notes: list[Note]
) -> JobReport:
    params = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in job.params.items()}
    if not job.modelled:
        gap = Difference(job=job.script, kind="not_modelled", real="a read script", twin="none")
        return JobReport(
            job=job.script, status="differs", reason=job.skipped or "", differences=[gap]
        )
    if job.skipped is not None or real is None or twin is None:
        return JobReport(job=job.script, params=params, status="skipped", reason=job.skipped or "")
    if real.kind == "no_answer":
        real_side = Side.of(real)
        return JobReport(
            job=job.script, params=params, status="no_answer", reason=real.detail, real=real_side
        )
    mine = [n for n in notes if n.job == job.script]
    found = compare(job.script, real, twin, mine)
    return JobReport(
        job=job.script,
        params=params,
        status="differs" if found else "match",
        real=Side.of(real),
        twin=Side.of(twin),
        differences=found,
        notes=mine,
    )


def run_conformance(
    real: Host,
    *,
    transport: str,
    member: str | None = None,
    redact: bool = True,
    names: Iterable[str] = (),
    hosts: Iterable[str] = (),
) -> ConformanceReport:
    """Run every read-only job on ``real`` and on a twin seeded from its answers.

    ``member`` is the account docker-users is asked about (its job is skipped without
    one); ``transport`` says how ``real`` was reached. With ``redact``, the computer name,
    ``names`` (accounts, ``DOMAIN\\user``), ``hosts`` and what the answers reveal are
    replaced by placeholders. Raises ``TransportError`` when the host does not answer.
    """
    registry = real.executor.registry
    jobs = read_jobs(registry, member)
    answers = capture(real, jobs)
    seeded = seed(answers)
    with Host(TwinRunner(seeded.fake, registry), registry=registry) as twin:
        twin_answers = capture(twin, jobs)
    report = ConformanceReport(
        ddperm=ddperm_version(),
        script_manifest_sha256=registry.manifest_sha256,
        created=datetime.now(timezone.utc),
        redacted=False,
        host=_host_info(transport, answers.get("version")),
        jobs=[
            _job_report(j, answers.get(j.script), twin_answers.get(j.script), seeded.notes)
            for j in jobs
        ],
    )
    if not redact:
        return report
    computers = [report.host.computer_name] if report.host.computer_name else []
    users = [*names, *([member] if member else [])]
    return Redactor(computers=computers, hosts=hosts, users=users).report(report)
