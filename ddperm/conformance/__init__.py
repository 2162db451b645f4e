"""The conformance kit: does the twin answer like this Windows machine?

``run_conformance(host, transport=...)`` runs every read-only script (``# ddperm-kind:
read``) on a real host, seeds a twin (``FakeHost``) from the answers, runs the same
scripts on the twin and reports every difference in outcome, error id, category,
exception type, document shape and seeded value. Nothing on the host is changed.
"""

from ddperm.conformance.capture import ErrorInfo, Outcome
from ddperm.conformance.compare import Difference
from ddperm.conformance.jobs import Job, read_jobs
from ddperm.conformance.kit import run_conformance
from ddperm.conformance.redact import Redactor
from ddperm.conformance.report import ConformanceReport, HostInfo, JobReport
from ddperm.conformance.seed import Note, Seeded, seed

__all__ = [
    "ConformanceReport",
    "Difference",
    "ErrorInfo",
    "HostInfo",
    "Job",
    "JobReport",
    "Note",
    "Outcome",
    "Redactor",
    "Seeded",
    "read_jobs",
    "run_conformance",
    "seed",
]
