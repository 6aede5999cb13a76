"""`roundhoused hosts`: add, list and remove the other machines that serve models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from roundhouse.daemon.fleet.hosts import key_name
from roundhouse.daemon.secrets import Secrets
from tests.conftest import keyring_or_skip
from tests.daemon.test_cli import run

CONFIG_HOST = """
[[hosts]]
name = "attic"
url = "http://attic.local:11434"

[[openai_compat]]
name = "lmbox"
base_url = "http://127.0.0.1:1234/v1"
"""


@pytest.fixture
def host_name() -> Iterator[str]:
    """A name of its own, so that the key this test stores never meets one of the user's."""
    name = f"gpu-{uuid.uuid4().hex[:8]}"
    yield name
    secrets = Secrets()
    if secrets.available()[0] and secrets.get(key_name(name)) is not None:
        secrets.delete(key_name(name))


def files_bytes(home: Path) -> bytes:
    """Everything Roundhouse wrote under its home: the database, its WAL, any backups."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_add_list_remove_keeps_the_key_in_the_keyring_only(rh_home: Path, host_name: str) -> None:
    secrets = Secrets()
    keyring_or_skip(secrets)
    key = f"sk-host-{uuid.uuid4().hex}-WXYZ"
    added = run(
        "hosts",
        "add",
        host_name,
        "http://gpu-box.local:8000/v1",
        "--kind",
        "vllm",
        "--memory-gb",
        "80",
        "--remote-network",
        "--key",
        stdin=key + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert f"added host '{host_name}'" in added.stdout and "within a few seconds" in added.stdout
    assert key not in added.stdout + added.stderr

    listed = run("hosts", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [f"{host_name}\tvllm\thttp://gpu-box.local:8000\tadded\tkey"]
    assert key not in listed.stdout + listed.stderr

    assert secrets.get(key_name(host_name)) == key
    assert key.encode() not in files_bytes(rh_home)

    removed = run("hosts", "remove", host_name)
    assert removed.returncode == 0 and f"removed host '{host_name}'" in removed.stdout
    assert run("hosts", "list").stdout == ""
    assert secrets.get(key_name(host_name)) is None
    again = run("hosts", "remove", host_name)
    assert again.returncode == 1 and f"no added host named '{host_name}'" in again.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("ftp://gpu-box.local",), "a host URL is http:// or https://"),
        (("http://gpu-box.local:11434?x=1",), "no query or fragment"),
        (("http://gpu-box.local:11434", "--memory-gb", "0"), "--memory-gb: input should be greater than 0"),
        (("http://gpu-box.local:11434", "--parallel", "0"), "--parallel:"),
    ],
)
def test_invalid_input_exits_2_and_stores_nothing(
    rh_home: Path, host_name: str, args: tuple[str, ...], says: str
) -> None:
    refused = run("hosts", "add", host_name, *args)
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and says in refused.stderr
    assert run("hosts", "list").stdout == ""


def test_a_bad_name_is_refused_with_the_rule(rh_home: Path) -> None:
    refused = run("hosts", "add", "GPU box!", "http://gpu-box.local:11434")
    assert refused.returncode == 2 and "lowercase letters, digits or '-'" in refused.stderr
    reserved = run("hosts", "add", "embedded", "http://gpu-box.local:11434")
    assert reserved.returncode == 2 and "reserved" in reserved.stderr


def test_a_taken_name_exits_1_and_keeps_the_first_host(rh_home: Path, host_name: str) -> None:
    assert run("hosts", "add", host_name, "http://first.local:11434").returncode == 0
    taken = run("hosts", "add", host_name, "http://second.local:11434")
    assert taken.returncode == 1 and "exists already" in taken.stderr
    assert run("hosts", "list").stdout.splitlines() == [
        f"{host_name}\tollama\thttp://first.local:11434\tadded\t-"
    ]


def test_config_hosts_are_listed_and_kept_out_of_reach(rh_home: Path) -> None:
    (rh_home / "config").mkdir(parents=True)
    (rh_home / "config" / "config.toml").write_text(CONFIG_HOST)
    assert run("hosts", "list").stdout.splitlines() == ["attic\tollama\thttp://attic.local:11434\tconfig\t-"]

    for taken in ("attic", "lmbox"):
        clash = run("hosts", "add", taken, "http://elsewhere.local:11434")
        assert clash.returncode == 1 and "config.toml" in clash.stderr
    refused = run("hosts", "remove", "attic")
    assert refused.returncode == 1 and "'attic' is set in config.toml; remove it there" in refused.stderr
    assert "attic" in run("hosts", "list").stdout


def test_a_key_without_a_keyring_is_refused_and_nothing_is_added(rh_home: Path, host_name: str) -> None:
    no_keyring = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    refused = run(
        "hosts",
        "add",
        host_name,
        "http://gpu-box.local:8080",
        "--kind",
        "llamacpp",
        "--key",
        stdin="sk-whatever-123456\n",
        env=no_keyring,
    )
    assert refused.returncode == 1 and "no secure keyring" in refused.stderr
    assert run("hosts", "list", env=no_keyring).stdout == ""
