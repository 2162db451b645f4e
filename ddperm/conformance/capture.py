"""Runs each job through ddperm's own path (guard, registry, retry, runner) and keeps the
host's raw answer: the JSON document as written, or the error record as reported."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue, RootModel

from ddperm.conformance.jobs import Job
from ddperm.errors import AuthenticationError, HostError, OutputError, TransportError
from ddperm.host import Host


class _Document(RootModel[JsonValue]):
    """Any JSON document, unchanged (the kit compares what the script wrote, not a model)."""


class ErrorInfo(BaseModel):
    """What an error record says: the parts a caller acts on, and the (localised) message."""

    model_config = ConfigDict(frozen=True)

    fully_qualified_error_id: str
    category: str
    exception_type: str
    message: str


class Outcome(BaseModel):
    """One job's answer: a document (``result``), an error record (``error``), output that
    is not one JSON document (``invalid_output``), or no answer at all (``no_answer``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["result", "error", "invalid_output", "no_answer"]
    document: JsonValue = None
    error: ErrorInfo | None = None
    detail: str = ""


def run_job(host: Host, job: Job) -> Outcome:
    """The raw answer of ``host`` to ``job`` (credentials and guard refusals propagate)."""
    try:
        document = host.executor.call(job.script, _Document, job.params).root
    except HostError as exc:
        error = ErrorInfo(
            fully_qualified_error_id=exc.fully_qualified_error_id,
            category=exc.category,
            exception_type=exc.exception_type,
            message=exc.message,
        )
        return Outcome(kind="error", error=error)
    except OutputError as exc:
        return Outcome(kind="invalid_output", detail=str(exc))
    except AuthenticationError:
        raise
    except TransportError as exc:
        return Outcome(kind="no_answer", detail=str(exc))
    return Outcome(kind="result", document=document)


def capture(host: Host, jobs: list[Job]) -> dict[str, Outcome]:
    """Every runnable job's answer from ``host``, by script name; ``TransportError`` when
    the first job gets no answer (the host is not there: the rest would only wait too)."""
    answers: dict[str, Outcome] = {}
    for job in (j for j in jobs if j.skipped is None):
        outcome = run_job(host, job)
        if outcome.kind == "no_answer" and not answers:
            raise TransportError(outcome.detail)
        answers[job.script] = outcome
    return answers
