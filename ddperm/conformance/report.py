"""The conformance report: what was compared on which host, and every difference found."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from ddperm.conformance.capture import ErrorInfo, Outcome
from ddperm.conformance.compare import Difference, Shape, shape
from ddperm.conformance.seed import Note

Status = Literal["match", "differs", "skipped", "no_answer"]


class Side(BaseModel):
    """One side's answer as the report keeps it: its kind, error record and shape (no values)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    error: ErrorInfo | None = None
    detail: str = ""
    shape: Shape = {}

    @classmethod
    def of(cls, outcome: Outcome) -> Side:
        found = shape(outcome.document) if outcome.kind == "result" else {}
        return cls(kind=outcome.kind, error=outcome.error, detail=outcome.detail, shape=found)


class JobReport(BaseModel):
    job: str
    params: dict[str, JsonValue] = {}
    status: Status
    reason: str = ""
    real: Side | None = None
    twin: Side | None = None
    differences: list[Difference] = []
    notes: list[Note] = []


class HostInfo(BaseModel):
    """The real host, from its version answer (None where it did not give one)."""

    computer_name: str | None = None
    transport: str
    os_caption: str | None = None
    os_version: str | None = None
    os_build: int | None = None
    powershell_version: str | None = None
    powershell_edition: str | None = None  # Desktop (Windows PowerShell 5.1) or Core (7)


class ConformanceReport(BaseModel):
    """Every read-only job run on a real host and on a twin seeded from its answers."""

    ddperm: str
    script_manifest_sha256: str
    created: datetime
    redacted: bool
    host: HostInfo
    jobs: list[JobReport]

    @property
    def differences(self) -> list[Difference]:
        return [d for job in self.jobs for d in job.differences]

    @property
    def ok(self) -> bool:
        """No difference, and every job that could run was answered."""
        return not self.differences and all(j.status != "no_answer" for j in self.jobs)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def summary(self) -> str:
        """A few lines for a terminal: the host, the counts, each difference and note."""
        h = self.host
        edition = f"PowerShell {h.powershell_version} {h.powershell_edition}"
        lines = [
            f"Conformance of {h.computer_name} ({h.os_caption} {h.os_version}, {edition}) "
            f"over {h.transport}",
            ", ".join(
                f"{sum(j.status == s for j in self.jobs)} {s.replace('_', ' ')}"
                for s in ("match", "differs", "skipped", "no_answer")
            )
            + f" of {len(self.jobs)} read-only jobs",
        ]
        for job in self.jobs:
            if job.status in ("skipped", "no_answer"):
                lines.append(f"  {job.job}: {job.status.replace('_', ' ')}: {job.reason}")
            for d in job.differences:
                lines.append(f"  {d.job}: {d.kind} {d.path}: real {d.real}, twin {d.twin}")
        notes = [n for job in self.jobs for n in job.notes]
        if notes:
            lines.append("Not seeded (values not compared):")
            lines.extend(f"  {n.job} {n.path}: {n.reason}" for n in notes)
        return "\n".join(lines)
