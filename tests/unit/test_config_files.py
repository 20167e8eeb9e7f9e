"""`config check` and `run` verify what a config names on the device: files present, readable, secrets closed
to others, the database inside the state directory, and no device calling itself `platform`. Real files with
real modes; `run` exits 2 with the same words, never a traceback or a retry loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import STATE_DIR_ENV, AgentConfig
from edge_agent.wiring import KeyFileError, build_agent
from tests.support.tls_pki import Pki, make_pki
from tests.support.world import REPO, make_config, write_config

KEY_HEX = "00112233445566778899aabbccddeeff"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != STATE_DIR_ENV}
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
    )


def _config(tmp_path: Path, **sections: Any) -> AgentConfig:
    raw = make_config(tmp_path, 1883).model_dump(mode="json", exclude_none=True)
    for dotted, value in sections.items():
        section, _, key = dotted.partition("__")
        if key:
            raw[section][key] = value
        else:
            raw[section] = value
    return AgentConfig.model_validate(raw)


def _edited(config: AgentConfig, path: Path, old: str, new: str) -> Path:
    """A config file the schema refuses (so it cannot be built as an AgentConfig first)."""
    text = write_config(config, path).read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def _secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("tls") / "pki")


def test_config_check_names_every_missing_file_with_its_key(tmp_path: Path) -> None:
    missing = {name: tmp_path / "etc" / name for name in ("mqtt.password", "ca.pem", "dev.pem", "dev.key", "id.key")}
    config = _config(
        tmp_path,
        mqtt__username="kiosk-01",
        mqtt__password_file=str(missing["mqtt.password"]),
        mqtt__tls={
            "ca_file": str(missing["ca.pem"]),
            "cert_file": str(missing["dev.pem"]),
            "key_file": str(missing["dev.key"]),
        },
        identity={"key_files": [str(missing["id.key"])]},
    )
    path = write_config(config, tmp_path / "kiosk.toml")
    result = _run("config", "check", str(path))
    assert result.returncode == 2 and f"{path}: invalid configuration" in result.stderr
    for key, name in (
        ("mqtt.password_file", "mqtt.password"),
        ("mqtt.tls.ca_file", "ca.pem"),
        ("mqtt.tls.cert_file", "dev.pem"),
        ("mqtt.tls.key_file", "dev.key"),
        ("identity.key_files", "id.key"),
    ):
        assert f"{key}: {missing[name]}: cannot be read (No such file or directory); allowed: " in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_files_everyone_can_read_or_write_are_refused_with_the_mode_and_the_fix(
    tmp_path: Path, pki: Pki
) -> None:
    password = _secret(tmp_path / "mqtt.password", "s3cret\n", 0o644)
    identity = _secret(tmp_path / "identity.key", KEY_HEX, 0o666)
    key = _secret(tmp_path / "client.key", pki.key("client").read_text(), 0o604)
    config = _config(
        tmp_path,
        mqtt__username="kiosk-01",
        mqtt__password_file=str(password),
        mqtt__tls={**pki.agent_tls(), "key_file": str(key)},
        identity={"key_files": [str(identity)]},
    )
    path = write_config(config, tmp_path / "kiosk.toml")
    result = _run("config", "check", str(path))
    assert result.returncode == 2
    assert (
        f"mqtt.password_file: {password}: is readable by everyone (mode 0644); "
        f"allowed: no access for others: chmod 600 {password} (or chmod 640, group edge-agent)"
    ) in result.stderr
    assert f"identity.key_files: {identity}: is readable and writable by everyone (mode 0666)" in result.stderr
    assert f"mqtt.tls.key_file: {key}: is readable by everyone (mode 0604)" in result.stderr
    assert "ca_file" not in result.stderr and "cert_file" not in result.stderr, "certificates are public"

    for secret in (password, identity, key):
        secret.chmod(0o640)
    result = _run("config", "check", str(path))
    assert result.returncode == 0 and f"{path}: ok" in result.stdout, result.stderr


def test_contents_that_cannot_work_are_refused_too(tmp_path: Path, pki: Pki) -> None:
    password = _secret(tmp_path / "mqtt.password", "\n")
    identity = _secret(tmp_path / "identity.key", "not hex at all")
    config = _config(
        tmp_path,
        mqtt__password_file=str(password),
        mqtt__tls={**pki.agent_tls(), "cert_file": str(pki.pem("server"))},  # a certificate, not its key
        identity={"key_files": [str(identity)]},
    )
    result = _run("config", "check", str(write_config(config, tmp_path / "kiosk.toml")))
    assert result.returncode == 2
    assert f"mqtt.password_file: {password}: is empty; allowed: the password on one line" in result.stderr
    assert f"identity.key_files: {identity}: not a key; allowed: the key as hex digits" in result.stderr
    assert f"mqtt.tls.cert_file: {pki.pem('server')}: cannot be used with mqtt.tls.key_file" in result.stderr
    assert "key values mismatch" in result.stderr


def test_run_exits_2_with_the_same_words_and_opens_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such.password"
    config = _config(tmp_path, mqtt__username="kiosk-01", mqtt__password_file=str(missing))
    path = write_config(config, tmp_path / "kiosk.toml")
    result = _run("run", "--config", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"mqtt.password_file: {missing}: cannot be read (No such file or directory)" in result.stderr
    assert not config.database_path().exists()

    missing.mkdir()  # there, but not a file
    assert "is not a regular file" in _run("run", "--config", str(path)).stderr

    ca = tmp_path / "no-such-ca.pem"
    config = _config(tmp_path, mqtt__tls={"ca_file": str(ca)})
    result = _run("run", "--config", str(write_config(config, tmp_path / "tls.toml")))
    assert result.returncode == 2, "a missing CA is a config error, not a connection retried forever"
    assert f"mqtt.tls.ca_file: {ca}: cannot be read" in result.stderr
    assert not config.database_path().exists()


def test_build_agent_reads_the_password_and_reports_an_unreadable_one_like_a_key_file(tmp_path: Path) -> None:
    unreadable = tmp_path / "password-dir"
    unreadable.mkdir()
    config = _config(tmp_path, mqtt__username="kiosk-01", mqtt__password_file=str(unreadable))
    with pytest.raises(KeyFileError, match=r"^mqtt\.password_file: .*password-dir: cannot be read \(Is a directory\)"):
        build_agent(config, readers={})
    assert not config.database_path().exists(), "the password is read before the database opens"
    _secret(tmp_path / "ok.password", "s3cret\nignored second line\n")
    agent = build_agent(_config(tmp_path, mqtt__password_file=str(tmp_path / "ok.password")), readers={})
    try:
        assert agent.link.settings.password == "s3cret"
    finally:
        agent.store.close()


def test_storage_path_stays_inside_the_state_directory(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1883)
    escaping = _edited(
        config, tmp_path / "up.toml", f'path = "{tmp_path}/kiosk-01.db"', 'path = "../elsewhere/agent.db"'
    )
    result = _run("config", "check", str(escaping))
    assert result.returncode == 2
    assert "storage.path: Value error, '..' leads out of the state directory ($EDGE_AGENT_STATE_DIR)" in result.stderr
    assert _run("run", "--config", str(escaping)).returncode == 2

    state = tmp_path / "state"
    state.mkdir()
    outside = write_config(_config(tmp_path, storage={"path": str(tmp_path / "agent.db")}), tmp_path / "abs.toml")
    result = _run("config", "check", str(outside), env={STATE_DIR_ENV: str(state)})
    assert result.returncode == 2
    assert (
        f"storage.path: {tmp_path / 'agent.db'} is outside the state directory {state} ($EDGE_AGENT_STATE_DIR); "
        f"allowed: a relative path such as agent.db, or an absolute path inside {state}"
    ) in result.stderr
    assert _run("run", "--config", str(outside), env={STATE_DIR_ENV: str(state)}).returncode == 2
    assert not (tmp_path / "agent.db").exists()

    inside = write_config(_config(tmp_path, storage={"path": str(state / "agent.db")}), tmp_path / "in.toml")
    assert _run("config", "check", str(inside), env={STATE_DIR_ENV: str(state)}).returncode == 0
    relative = write_config(_config(tmp_path, storage={"path": "db/./agent.db"}), tmp_path / "rel.toml")
    assert _run("config", "check", str(relative), env={STATE_DIR_ENV: str(state)}).returncode == 0
    # Without $EDGE_AGENT_STATE_DIR (a checkout, the tests) an absolute path is taken as given.
    assert _run("config", "check", str(outside)).returncode == 0


def test_the_platform_identity_is_not_a_device_id(tmp_path: Path) -> None:
    path = _edited(make_config(tmp_path, 1883), tmp_path / "platform.toml", 'id = "kiosk-01"', 'id = "platform"')
    result = _run("config", "check", str(path))
    assert result.returncode == 2
    assert "device.id: Value error, 'platform' is reserved for the platform's identity on the store broker" in (
        result.stderr
    )


PUBLIC_KEY_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
"""RFC 8032's first test public key."""


def test_public_key_files_are_checked_for_what_they_hold_and_who_may_change_them(tmp_path: Path) -> None:
    good = _secret(tmp_path / "platform.pub", PUBLIC_KEY_HEX + "\n", 0o644)  # public: anyone may read it
    short = _secret(tmp_path / "short.pub", PUBLIC_KEY_HEX[:40], 0o644)
    writable = _secret(tmp_path / "writable.pub", PUBLIC_KEY_HEX, 0o666)
    config = _config(tmp_path, identity={"public_key_files": [str(good), str(short), str(writable)]})
    path = write_config(config, tmp_path / "kiosk.toml")
    result = _run("config", "check", str(path))
    assert result.returncode == 2
    assert (
        f"identity.public_key_files: {short}: not a key; allowed: the 32-byte Ed25519 public key as 64 hex digits or "
        "base64 (standard or url-safe), one line"
    ) in result.stderr
    assert (
        f"identity.public_key_files: {writable}: is writable by everyone (mode 0666); "
        f"allowed: no write access for others: chmod 644 {writable}"
    ) in result.stderr
    assert str(good) + ":" not in result.stderr

    config = _config(tmp_path, identity={"public_key_files": [str(good)]})
    result = _run("config", "check", str(write_config(config, tmp_path / "kiosk.toml")))
    assert result.returncode == 0, result.stderr
    agent = build_agent(config, readers={})
    agent.store.close()
    agent_verifier = agent.verifier
    assert agent_verifier is not None and agent_verifier.public_keys == (bytes.fromhex(PUBLIC_KEY_HEX),)
    assert agent_verifier.keys == (), "no symmetric key on a device with public keys"


def test_a_device_holds_one_kind_of_identity_key(tmp_path: Path) -> None:
    config = _config(tmp_path, identity={"key_files": [str(tmp_path / "id.key")]})
    for old, new in (
        ("public_key_files = []", f'public_key_files = ["{tmp_path / "p.pub"}"]'),
        ('key_files = ["' + str(tmp_path / "id.key") + '"]', "key_files = []"),
    ):
        result = _run("config", "check", str(_edited(config, tmp_path / "kiosk.toml", old, new)))
        assert result.returncode == 2
        assert "set exactly one of public_key_files and key_files; allowed: public_key_files = [...]" in result.stderr


def test_a_kiosk_with_public_keys_needs_its_own_claim_key_for_claim_links(tmp_path: Path) -> None:
    public = _secret(tmp_path / "platform.pub", PUBLIC_KEY_HEX, 0o644)
    claim_key = _secret(tmp_path / "claim.key", "ab" * 16, 0o644)  # too short, and readable by everyone
    config = _config(
        tmp_path,
        identity={"public_key_files": [str(public)]},
        claim={"base_url": "https://shop.example", "key_file": str(claim_key)},
    )
    with_key = write_config(config, tmp_path / "with.toml")
    result = _run("config", "check", str(with_key))
    assert result.returncode == 2
    assert f"claim.key_file: {claim_key}: is readable by everyone (mode 0644)" in result.stderr
    assert (
        f"claim.key_file: {claim_key}: not a key; allowed: this device's claim key from the platform, 64 hex digits"
    ) in result.stderr
    _secret(claim_key, "ab" * 32)
    result = _run("config", "check", str(with_key))
    assert result.returncode == 0, result.stderr
    agent = build_agent(config, readers={})
    agent.store.close()
    assert agent.claim_key == bytes.fromhex("ab" * 32) and agent.basket.claim.enabled

    without = _edited(config, tmp_path / "without.toml", f'key_file = "{claim_key}"', "")
    result = _run("config", "check", str(without))
    assert result.returncode == 2
    assert "claim.key_file is required with identity.public_key_files" in result.stderr
