"""``ddperm schema``: every result model's JSON Schema, checked against real twin results."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import typing
from datetime import datetime, timezone
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from ddperm import RegistryPolicy, VMSpec
from ddperm.cli import app
from ddperm.cli import commands as _commands  # noqa: F401  (registers every command)
from ddperm.components.base import Component
from ddperm.schema import RESULT_MODELS, RESULTS
from ddperm.testing import FakeHost, twin_host


@pytest.fixture(scope="module")
def printed() -> dict[str, Any]:
    """``ddperm schema --all`` as a person runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "ddperm", "schema", "--all"],
        capture_output=True,
        text=True,
        env=os.environ,
        check=True,
        timeout=120,
    )
    return typing.cast(dict[str, Any], json.loads(done.stdout))


def _results() -> dict[str, BaseModel]:
    """One real twin result of every model, from a tour of the whole Host API."""
    fake = FakeHost()
    fake.fs.add_volume("D:")
    fake.hypervisorlaunchtype = "Off"
    host = twin_host(fake)
    now = datetime.now(timezone.utc)
    policy = RegistryPolicy(organization="acme", allowed_registries=("docker.io",), fetched_at=now)
    results = [
        host.health(),
        host.version(),
        host.hyperv.status(),
        host.bootloader.status(),
        host.features.check(),
        host.hosts_file.status(),
        host.hosts_file.ensure(),
        host.policy.cache(policy),
        host.policy.status(),
        host.vm.create(VMSpec(cpus=2, memory_bytes=2 * 2**30)),
        host.vm.start(),
        host.vm.stop(),
        host.vhd.size(),
        host.vhd.move("D:\\Docker"),
        host.vm.destroy(),
        host.engine.status(),
        host.engine.start(),
        host.engine.stop(),
        host.windows_containers.delete_data(confirm=True),
        host.setup.boot_state(),
        host.setup.docker_users(["dev"]),
        host.setup.add_docker_user("alice"),
        host.setup.enable_features(["Microsoft-Hyper-V"]),
        host.setup.enable_hypervisor_launch(),
        host.setup.restart(),
    ]
    return {type(result).__name__: result for result in results}


def test_registry_names_every_call_of_the_host_api() -> None:
    host = twin_host()
    owners: dict[str, object] = {"host": host}
    components = {
        n: getattr(host, n) for n, v in vars(type(host)).items() if isinstance(v, property)
    }
    owners.update({f"host.{n}": c for n, c in components.items() if isinstance(c, Component)})
    found = set()
    for prefix, owner in owners.items():
        for name, method in inspect.getmembers(type(owner), inspect.isfunction):
            if name.startswith("_"):
                continue
            returned = typing.get_type_hints(method)["return"]
            for model in typing.get_args(returned) or (returned,):
                if isinstance(model, type) and issubclass(model, BaseModel):
                    found.add((f"{prefix}.{name}()", model))
    assert found == set(RESULTS)


def test_every_twin_result_matches_the_printed_schema(printed: dict[str, Any]) -> None:
    results = _results()
    assert set(results) == set(printed) == set(RESULT_MODELS)
    for name, result in results.items():
        document = json.loads(result.model_dump_json())
        jsonschema.Draft202012Validator(printed[name]).validate(document)


def test_the_schema_refuses_what_a_result_can_not_be(printed: dict[str, Any]) -> None:
    health = json.loads(_results()["HealthReport"].model_dump_json())
    validator = jsonschema.Draft202012Validator(printed["HealthReport"])
    assert validator.is_valid(health)
    assert not validator.is_valid({**health, "unexpected": 1})
    assert not validator.is_valid({**health, "healthy": "yes"})
    assert not validator.is_valid({k: v for k, v in health.items() if k != "engine"})
    health["engine"]["status"] = "fine"
    assert not validator.is_valid(health)


def test_one_model_by_name_in_any_case(printed: dict[str, Any]) -> None:
    done = CliRunner().invoke(app, ["schema", "healthreport"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == printed["HealthReport"]


def test_without_a_model_lists_each_with_the_calls_returning_it() -> None:
    done = CliRunner().invoke(app, ["schema"])
    assert done.exit_code == 0, done.output
    rows = {line.split()[0]: line.split(None, 1)[1] for line in done.stdout.splitlines()}
    assert list(rows) == list(RESULT_MODELS)
    assert rows["VMChange"] == "host.vm.start(), host.vm.stop()"
    assert rows["HealthReport"] == "host.health()"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schema", "NoSuchModel"], "unknown model 'NoSuchModel'"),
        (["schema", "HealthReport", "--all"], "give a MODEL or --all, not both"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 2
    assert message in done.output
    assert "{" not in done.stdout
