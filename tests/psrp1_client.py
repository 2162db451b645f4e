"""A psrp 1.0 (pypsrp 1.0.0b1) client for tests/test_winrm_interop.py.

Runs in its own virtual environment (.venv-psrp1, ``make psrp1``): psrp 1.0 cannot
share one with pypsrp 0.9. Reads one JSON request on stdin ({"case", "connection",
"script", "params", "seconds"}) and prints one JSON answer: {"ok": ...} or
{"error": type name, "code": WS-Man fault code or null, "message": ...}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

import psrp


def _info(options: dict[str, Any], configuration: str = "Microsoft.PowerShell") -> Any:
    return psrp.WSManInfo(**options, configuration_name=configuration)


def _script(pool: Any, request: dict[str, Any]) -> Any:
    ps = psrp.SyncPowerShell(pool)
    ps.add_script(request["script"])
    ps.add_parameters(**request["params"])
    return ps


def run(request: dict[str, Any]) -> Any:
    with psrp.SyncRunspacePool(_info(request["connection"])) as pool:
        return _script(pool, request).invoke()


def parallel(request: dict[str, Any]) -> Any:
    with psrp.SyncRunspacePool(_info(request["connection"]), max_runspaces=3) as pool:
        tasks = [_script(pool, request).invoke_async() for _ in range(3)]
        return [task.wait() for task in tasks]


def pool_ops(request: dict[str, Any]) -> Any:
    with psrp.SyncRunspacePool(_info(request["connection"])) as pool:
        available = pool.get_available_runspaces()
        grew = pool.set_max_runspaces(3)
        raised = pool.set_min_runspaces(2)
        refused = pool.set_min_runspaces(5)
        reset = pool.reset_runspace_state()
        metadata = psrp.SyncCommandMetaPipeline(pool, "Get-*").invoke()
        return [available, grew, raised, refused, reset, pool.get_available_runspaces(), metadata]


def stop(request: dict[str, Any]) -> Any:
    with psrp.SyncRunspacePool(_info(request["connection"])) as pool:
        ps = _script(pool, request)
        task = ps.invoke_async()
        time.sleep(0.5)
        ps.stop()
        try:
            task.wait()
        except psrp.PipelineStopped:
            return str(ps.state)
        return "not stopped"


def idle(request: dict[str, Any]) -> Any:
    with psrp.SyncRunspacePool(_info(request["connection"])):
        time.sleep(request["seconds"])
    return threading.active_count()


def unknown_configuration(request: dict[str, Any]) -> Any:
    with psrp.SyncRunspacePool(_info(request["connection"], "NoSuch.Configuration")):
        return "opened"


async def _async_run(request: dict[str, Any]) -> Any:
    async with psrp.AsyncRunspacePool(_info(request["connection"]), max_runspaces=3) as pool:

        async def one() -> Any:
            ps = psrp.AsyncPowerShell(pool)
            ps.add_script(request["script"])
            ps.add_parameters(**request["params"])
            return await ps.invoke()

        return await asyncio.gather(one(), one(), one())


async def _async_idle(request: dict[str, Any]) -> Any:
    async with psrp.AsyncRunspacePool(_info(request["connection"])):
        await asyncio.sleep(request["seconds"])
    return "closed"


CASES = {
    "run": run,
    "parallel": parallel,
    "pool_ops": pool_ops,
    "stop": stop,
    "idle": idle,
    "unknown_configuration": unknown_configuration,
    "async_run": lambda r: asyncio.run(_async_run(r)),
    "async_idle": lambda r: asyncio.run(_async_idle(r)),
}


def main() -> None:
    request = json.load(sys.stdin)
    try:
        answer: dict[str, Any] = {"ok": CASES[request["case"]](request)}
    except Exception as exc:
        code = getattr(exc, "code", None)
        answer = {
            "error": type(exc).__name__,
            "code": code if isinstance(code, int) else None,
            "message": str(exc),
        }
    print(json.dumps(answer, default=str))


if __name__ == "__main__":
    main()
