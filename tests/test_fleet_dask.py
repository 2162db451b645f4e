"""fleet.audit spread over a dask.distributed LocalCluster of two worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from ddperm.fleet import Target, audit
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import serve

distributed = pytest.importorskip("distributed", reason="dask.distributed is the fleet extra")


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _fake(index: int) -> FakeHost:
    fake = FakeHost()
    twin_host(fake).hosts_file.ensure()
    if index % 2:
        fake.hypervisorlaunchtype = "Off"
    fake.calls.clear()
    return fake


def test_batches_run_on_both_workers_and_every_host_is_answered(
    client: distributed.Client,
) -> None:
    with ExitStack() as stack:
        endpoints = [stack.enter_context(serve(_fake(i), password=f"pw{i}")) for i in range(6)]
        targets = [Target(name=f"pc{i}", **ep.connect_options()) for i, ep in enumerate(endpoints)]
        with distributed.get_task_stream(client) as stream:
            report = audit(targets, client=client, batch_size=2, deadline=20, progress=False)
        calls = [[name for name, _ in ep.fake.calls] for ep in endpoints]
    assert [r.name for r in report.results] == [t.name for t in targets]
    assert [r.outcome for r in report.results] == ["healthy", "unhealthy"] * 3
    assert calls == [["health"]] * 6  # every host asked exactly once
    workers = {task["worker"] for task in stream.data if "audit_batch" in task["key"]}
    assert len(workers) == 2
