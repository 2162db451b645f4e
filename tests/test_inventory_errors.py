"""A missing, broken or empty inventory raises InventoryError with one sentence naming the
file and what is wrong (for Ansible, in ansible-core's own words), and prints nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ddperm.errors import ConfigurationError
from ddperm.fleet import InventoryError, audit, load_targets

CASES: list[tuple[str, str, str]] = [
    ("empty.ini", "", r"empty\.ini has no hosts matching 'all'"),
    ("only-groups.ini", "[devboxes]\n[devboxes:vars]\nansible_user=x\n", r"has no hosts"),
    (
        "broken.ini",
        "[devboxes\npc1 ansible_port=5985\n",
        r"ansible cannot parse .*broken\.ini: Failed to parse inventory with 'ini' plugin",
    ),
    (
        "broken.yml",
        "all:\n  hosts:\n    - pc1: [\n",
        r"ansible cannot parse .*broken\.yml: .*YAML parsing failed",
    ),
    (
        "bad-port.yml",
        "all:\n  hosts:\n    pc1:\n      ansible_port: fifty\n",
        r"bad-port\.yml host pc1: ansible_port must be a number, got 'fifty'",
    ),
    (
        "big-port.yml",
        "all:\n  hosts:\n    pc1:\n      ansible_port: 70000\n",
        r"big-port\.yml host pc1: port: Input should be less than or equal to 65535",
    ),
    (
        "undefined.yml",
        'all:\n  hosts:\n    pc1:\n      ansible_password: "{{ vault_pw }}"\n',
        r"undefined\.yml host pc1: 'vault_pw' is undefined",
    ),
    ("empty.csv", "", r"empty\.csv is empty: it needs a header line"),
    ("header-only.csv", "name,host,port\n", r"header-only\.csv lists no hosts"),
    (
        "unknown-column.csv",
        "name,host,prot\npc1,10.0.0.1,5985\n",
        r"unknown column 'prot' \(did you mean 'port'\?\)",
    ),
    (
        "text-port.csv",
        "name,host,port\npc1,10.0.0.1,5985\npc2,10.0.0.2,http\n",
        r"text-port\.csv line 3: port: Input should be a valid integer.*\(got 'http'\)",
    ),
    (
        "big-port.csv",
        "name,host,port\npc1,10.0.0.1,70000\n",
        r"big-port\.csv line 2: port: Input should be less than or equal to 65535",
    ),
    ("no-server.csv", "name,port\npc1,5985\n", r"no-server\.csv line 2: server: Field required"),
    ("twice.csv", "host\npc1\npc1\n", r"two targets are named 'pc1'"),
]


@pytest.mark.parametrize(("name", "text", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_inventory_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InventoryError, match=message) as refused:
        load_targets(path)
    assert isinstance(refused.value, ConfigurationError)
    assert "\n" not in str(refused.value)
    printed = capsys.readouterr()
    assert "WARNING" not in printed.err + printed.out  # ansible's warnings are in the error


def test_a_bad_password_value_is_never_echoed() -> None:
    with pytest.raises(InventoryError, match=r"target 1: password: Input should be") as refused:
        load_targets([{"server": "pc1", "password": 8675309}])
    assert "8675309" not in str(refused.value)


def test_a_missing_file_and_a_broken_folder(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"no inventory at .*nowhere\.ini"):
        audit(tmp_path / "nowhere.ini", progress=False)
    (tmp_path / "good.yml").write_text("all:\n  hosts:\n    pc1:\n", encoding="utf-8")
    (tmp_path / "bad.yml").write_text("all: [\n", encoding="utf-8")
    with pytest.raises(InventoryError, match=r"ansible cannot parse .*YAML parsing failed"):
        load_targets(tmp_path)  # one broken file in a folder is not skipped quietly


def test_ansible_is_left_as_it_was(tmp_path: Path) -> None:
    from ansible import constants
    from ansible.utils.display import Display

    before = constants.INVENTORY_ANY_UNPARSED_IS_FAILED
    (tmp_path / "bad.ini").write_text("[x\n", encoding="utf-8")
    with pytest.raises(InventoryError):
        load_targets(tmp_path / "bad.ini")
    assert before == constants.INVENTORY_ANY_UNPARSED_IS_FAILED
    assert "warning" not in vars(Display())  # the instance's own method is back


@pytest.mark.parametrize("bad", [["pc1:http"], [{"server": "pc1", "port": 0}], ["pc1", "pc1"]])
def test_a_bad_list_is_an_inventory_error(bad: list[Any]) -> None:
    with pytest.raises(InventoryError):
        load_targets(bad)
