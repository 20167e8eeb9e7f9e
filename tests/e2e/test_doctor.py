"""`edge-agent doctor`: each check broken on purpose, against the real thing (Mosquitto with TLS, SQLite files,
tmpfs mounts, OpenCV, nfcpy's udp driver, python-dbusmock's BlueZ), and the verdict read back.

The mount tests need root (the tests run as root): chmod cannot make a directory read-only for root, a
read-only tmpfs can; a tiny tmpfs filled to the last block is a full disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig
from edge_agent.fleet.doctor import CheckResult, DoctorReport, run_doctor
from edge_agent.fleet.doctor_clock import ClockCheck
from edge_agent.fleet.doctor_const import WAL_SCRATCH_PREFIX
from edge_agent.store.device import DeviceStore
from simulators.beacons import FakeBlueZ
from simulators.broker import FencedBroker, MosquittoBroker, free_port
from simulators.camera import write_scan_video
from tests.support.fence import StorePki, make_store_pki
from tests.support.tls_pki import Pki, make_pki
from tests.support.world import REPO, write_config

DEVICE = "kiosk-01"
PAGE = 4096


def doctor_config(tmp_path: Path, port: int, *, state: Path | None = None, **extra: Any) -> Path:
    """A kiosk config in tmp_path (its state directory `state` unless given); `extra`: tls=, readers=."""
    state = state or tmp_path / "state"
    mqtt: dict[str, Any] = {"endpoints": [{"host": "127.0.0.1", "port": port}], "connect_timeout_s": 3}
    if "tls" in extra:
        mqtt["tls"] = extra.pop("tls")
    raw: dict[str, Any] = {
        "device": {"id": DEVICE, "tenant": "acme", "store": "s042", "role": "kiosk"},
        "storage": {"path": str(state / "agent.db")},
        "mqtt": mqtt,
        **extra,
    }
    return write_config(AgentConfig.model_validate(raw), tmp_path / "doctor.toml")


def by_name(report: DoctorReport) -> dict[str, CheckResult]:
    return {r.name: r for r in report.checks}


def make_database(path: Path) -> Path:
    """A real agent database (schema and a basket), closed cleanly so its WAL is checkpointed into the file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = DeviceStore.open(path, DEVICE)
    try:
        store.open_cart("basket-1")
    finally:
        store.close()
    return path


# --- storage ---------------------------------------------------------------------------------------------------
def test_a_healthy_state_directory_and_database_pass(tmp_path: Path) -> None:
    db = make_database(tmp_path / "state" / "agent.db")
    content = db.read_bytes()
    checks = by_name(run_doctor(doctor_config(tmp_path, free_port())))
    assert checks["state_dir"].verdict == "ok", checks["state_dir"]
    assert checks["state_dir"].facts["mode"] == "0700"
    assert checks["wal"].verdict == "ok", checks["wal"]
    assert checks["database"].verdict == "ok", checks["database"]
    assert db.read_bytes() == content, "the doctor wrote to the agent's database"
    # SQLite's WAL index (-wal, -shm) of a read-only look stays, as after `edge-agent status`; no scratch file does.
    assert not [p.name for p in db.parent.iterdir() if p.name.startswith(WAL_SCRATCH_PREFIX)]


def test_a_missing_database_is_a_warning_and_is_not_created(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir(mode=0o700)
    checks = by_name(run_doctor(doctor_config(tmp_path, free_port())))
    assert checks["database"].verdict == "warn"
    assert "no database yet" in checks["database"].detail
    assert not (tmp_path / "state" / "agent.db").exists()


@pytest.mark.parametrize("first_page", [1, 0], ids=["pages-after-the-header", "the-header-too"])
def test_a_corrupt_database_fails_quick_check_and_says_to_move_it_aside(tmp_path: Path, first_page: int) -> None:
    db = make_database(tmp_path / "state" / "agent.db")
    size = db.stat().st_size
    assert size >= 3 * PAGE
    with db.open("r+b") as f:  # garbage over every page from first_page on, as a failing card leaves it
        f.seek(first_page * PAGE)
        f.write(os.urandom(size - first_page * PAGE))
    checks = by_name(run_doctor(doctor_config(tmp_path, free_port())))
    result = checks["database"]
    assert result.verdict == "fail", result
    assert "move" in result.fix and "-wal" in result.fix


def test_a_read_only_state_directory_fails_the_directory_and_the_wal_checks(tmp_path: Path, tmpfs: Any) -> None:
    state = tmpfs("1m", read_only=True)
    checks = by_name(run_doctor(doctor_config(tmp_path, free_port(), state=state)))
    assert checks["state_dir"].verdict == "fail"
    assert "read-only" in checks["state_dir"].detail
    assert checks["state_dir"].facts["read_only"] is True
    assert checks["wal"].verdict == "fail"
    assert "cannot write a database here" in checks["wal"].detail


def test_a_full_state_directory_fails_on_free_space_and_on_writing(tmp_path: Path, tmpfs: Any) -> None:
    state = tmpfs("256k")
    fd = os.open(state / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="No space left"):
            while True:
                os.write(fd, b"\0" * PAGE)
    finally:
        os.close(fd)
    checks = by_name(run_doctor(doctor_config(tmp_path, free_port(), state=state)))
    assert checks["state_dir"].verdict == "fail"
    assert "MiB free" in checks["state_dir"].detail
    assert checks["wal"].verdict == "fail", checks["wal"]
    assert "free space" in checks["wal"].fix
    assert [p.name for p in state.iterdir()] == ["filler"], "the WAL check left its scratch files"


def test_a_roomy_tmpfs_is_below_the_free_space_warning_level(tmp_path: Path, tmpfs: Any) -> None:
    state = tmpfs("64m")
    result = by_name(run_doctor(doctor_config(tmp_path, free_port(), state=state)))["state_dir"]
    assert result.verdict == "warn", result
    assert "df -h" in result.fix


def test_a_state_directory_anyone_can_write_fails(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state").chmod(0o777)
    result = by_name(run_doctor(doctor_config(tmp_path, free_port())))["state_dir"]
    assert result.verdict == "fail"
    assert "chmod 700" in result.fix


# --- broker ----------------------------------------------------------------------------------------------------
def test_an_unreachable_broker_fails_with_the_link_s_words(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = by_name(run_doctor(doctor_config(tmp_path, port)))["broker"]
    assert result.verdict == "fail"
    assert result.target == f"127.0.0.1:{port}"
    assert result.detail.startswith("broker unreachable")
    assert "mqtt.endpoints" in result.fix


def test_each_endpoint_is_checked(tmp_path: Path, broker: MosquittoBroker) -> None:
    path = doctor_config(tmp_path, broker.port)
    text = path.read_text().replace(
        f'{{host = "127.0.0.1", port = {broker.port}}}',
        f'{{host = "127.0.0.1", port = {broker.port}}}, {{host = "127.0.0.1", port = {free_port()}}}',
    )
    path.write_text(text)
    brokers = [r for r in run_doctor(path).checks if r.name == "broker"]
    assert [r.verdict for r in brokers] == ["ok", "fail"]


def test_a_broker_without_an_acl_fails_the_fence_check_and_a_fenced_one_passes_it(
    tmp_path: Path, broker: MosquittoBroker, store_pki: StorePki
) -> None:
    bare = by_name(run_doctor(doctor_config(tmp_path, broker.port)))["fence"]
    assert (bare.verdict, bare.facts["outcome"]) == ("fail", "accepted"), bare
    assert "the broker has no ACL" in bare.detail and "deploy/mosquitto/edge-agent.conf and edge-agent.acl" in bare.fix

    with FencedBroker(tmp_path / "fenced-broker", store_pki.root) as fenced:
        tls = store_pki.device(DEVICE).as_agent_tls()
        fence = by_name(run_doctor(doctor_config(tmp_path, fenced.port, tls=tls)))["fence"]
    assert fence.verdict == "ok", fence
    assert fence.detail.startswith(f"CONNECT accepted at 127.0.0.1:{fenced.port} as edge-agent-{DEVICE}-fence-check")
    assert "refuses platform-only topics" in fence.detail


def test_a_wrong_broker_password_fails_the_fence_check_with_the_link_s_words(tmp_path: Path) -> None:
    users = tmp_path / "mosquitto.passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(users), DEVICE, "the-right-one"], check=True)
    users.chmod(0o600)
    secret = tmp_path / "password"
    secret.write_text("not-the-right-one\n")
    secret.chmod(0o600)
    with MosquittoBroker(tmp_path / "pw-broker", listener_options=[f"password_file {users}"]) as broker:
        path = doctor_config(tmp_path, broker.port)
        text = path.read_text().replace("[mqtt]\n", f'[mqtt]\nusername = "{DEVICE}"\npassword_file = "{secret}"\n')
        path.write_text(text)
        checks = by_name(run_doctor(path))
    assert checks["broker"].verdict == "ok", "TCP alone cannot tell"
    fence = checks["fence"]
    assert (fence.verdict, fence.facts["outcome"]) == ("fail", "unreachable"), fence
    assert f"refuses user {DEVICE!r}" in fence.detail and "a wrong password" in fence.detail
    assert "mqtt.password_file" in fence.fix and "mosquitto_passwd" in fence.fix


@pytest.fixture(scope="module")
def long_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates valid for 400 days: past the 30-day warning."""
    return make_pki(tmp_path_factory.mktemp("doctor-tls") / "pki", days=400)


@pytest.fixture(scope="module")
def short_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """make_pki's usual two days (and its certificate that expired in 2020)."""
    return make_pki(tmp_path_factory.mktemp("doctor-tls-short") / "pki")


@pytest.fixture(scope="module")
def store_pki(tmp_path_factory: pytest.TempPathFactory) -> StorePki:
    """The store's PKI as scripts/store-pki.sh makes it (825-day leaves), for the shipped fence."""
    return make_store_pki(tmp_path_factory.mktemp("doctor-store-pki"), (DEVICE,))


def _tls_run(tmp_path: Path, pki: Pki, server: str = "server", client: str = "client") -> dict[str, CheckResult]:
    with MosquittoBroker(tmp_path / "tls-broker", listener_options=pki.broker_options(server)) as tls_broker:
        return by_name(run_doctor(doctor_config(tmp_path, tls_broker.port, tls=pki.agent_tls(client))))


def test_tls_to_a_real_broker_with_long_lived_certificates_passes(tmp_path: Path, long_pki: Pki) -> None:
    checks = _tls_run(tmp_path, long_pki)
    assert checks["broker"].verdict == "ok", checks["broker"]
    assert "issued by 'edge-agent test ca'" in checks["broker"].detail
    assert float(checks["broker"].facts["days_to_expiry"] or 0) > 300
    assert checks["client_certificate"].verdict == "ok", checks["client_certificate"]


def test_certificates_that_expire_within_30_days_are_warnings(tmp_path: Path, short_pki: Pki) -> None:
    checks = _tls_run(tmp_path, short_pki)
    for name in ("broker", "client_certificate"):
        assert checks[name].verdict == "warn", checks[name]
        assert "expires in" in checks[name].detail
        assert "before" in checks[name].fix


def test_an_expired_client_certificate_fails(tmp_path: Path, short_pki: Pki) -> None:
    checks = _tls_run(tmp_path, short_pki, client="expired")
    result = checks["client_certificate"]
    assert result.verdict == "fail"
    assert "expired on 2020-02-01" in result.detail
    assert "re-issue" in result.fix
    # The broker refuses it too: TLS 1.3 sends that alert after the handshake, and the check waits for it.
    assert checks["broker"].verdict == "fail"
    assert checks["broker"].detail.startswith("client certificate expired")


def test_a_client_certificate_the_broker_does_not_trust_fails_the_broker_check(tmp_path: Path, long_pki: Pki) -> None:
    checks = _tls_run(tmp_path, long_pki, client="foreign")
    assert checks["client_certificate"].verdict == "ok"  # valid for 400 days: only the broker can tell
    result = checks["broker"]
    assert result.verdict == "fail"
    assert result.detail.startswith("client certificate unknown to the broker")
    assert "store CA" in result.fix


def test_a_broker_certificate_from_another_ca_fails_the_chain(tmp_path: Path, long_pki: Pki) -> None:
    result = _tls_run(tmp_path, long_pki, server="server-other")["broker"]
    assert result.verdict == "fail"
    assert result.detail.startswith("broker certificate not trusted")
    assert "mqtt.tls.ca_file" in result.fix


# --- readers ---------------------------------------------------------------------------------------------------
def test_a_device_without_readers_runs_no_reader_checks(tmp_path: Path) -> None:
    names = {r.name for r in run_doctor(doctor_config(tmp_path, free_port())).checks}
    assert names == {"config", "state_dir", "wal", "database", "broker", "fence", "clock"}


def test_a_missing_camera_file_fails_and_a_real_video_gives_a_frame(tmp_path: Path) -> None:
    missing = {"barcode": {"source": str(tmp_path / "no-such.avi")}}
    result = by_name(run_doctor(doctor_config(tmp_path, free_port(), readers=missing)))["camera"]
    assert result.verdict == "fail"
    assert "no such file" in result.detail
    video = write_scan_video(tmp_path / "shelf.avi", [(None, 5)])
    present = {"barcode": {"source": str(video)}}
    result = by_name(run_doctor(doctor_config(tmp_path, free_port(), readers=present)))["camera"]
    assert result.verdict == "ok", result
    assert result.facts["width"] and result.facts["height"]


def test_an_nfc_frontend_that_is_not_there_fails_and_an_nfcpy_udp_one_opens(tmp_path: Path) -> None:
    absent = {"nfc": {"path": "tty:S99:pn532"}}
    result = by_name(run_doctor(doctor_config(tmp_path, free_port(), readers=absent)))["nfc"]
    assert result.verdict == "fail"
    assert "/dev/ttyUSB" in result.fix
    present = {"nfc": {"path": f"udp:127.0.0.1:{free_port()}"}}
    result = by_name(run_doctor(doctor_config(tmp_path, free_port(), readers=present)))["nfc"]
    assert result.verdict == "ok", result


def test_a_powered_ble_adapter_passes_and_an_unpowered_or_absent_one_fails(
    tmp_path: Path, fake_bluez: FakeBlueZ
) -> None:
    def ble(adapter: str = "hci0") -> CheckResult:
        readers = {"ble": {"adapter": adapter}}
        return by_name(run_doctor(doctor_config(tmp_path, free_port(), readers=readers)))["ble"]

    assert ble().verdict == "ok", ble()
    fake_bluez.set_powered(False)
    off = ble()
    assert off.verdict == "fail"
    assert off.detail.startswith("powered_off")
    assert "rfkill" in off.fix
    absent = ble("hci7")
    assert absent.verdict == "fail"
    assert absent.detail.startswith("no_bluetooth")


# --- clock -----------------------------------------------------------------------------------------------------
def _fake_timedatectl(directory: Path, body: str) -> Path:
    """A stand-in for systemd's timedatectl (no systemd in CI): a script with a fixed answer."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "timedatectl"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_the_clock_verdict_follows_ntp_synchronized(tmp_path: Path) -> None:
    assert ClockCheck(str(_fake_timedatectl(tmp_path / "yes", "echo yes"))).run().verdict == "ok"
    not_synced = ClockCheck(str(_fake_timedatectl(tmp_path / "no", "echo no"))).run()
    assert not_synced.verdict == "fail"
    assert "timesyncd" in not_synced.fix
    # No systemd (a container): timedatectl fails and the kernel's adjtimex answers instead.
    fallback = ClockCheck(str(_fake_timedatectl(tmp_path / "down", "exit 1"))).run()
    assert fallback.facts["source"] == "the kernel (adjtimex)"


# --- the CLI ---------------------------------------------------------------------------------------------------
def _doctor_cli(config: Path, *args: str, path_dirs: Sequence[Path] = ()) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=os.pathsep.join([*map(str, path_dirs), os.environ.get("PATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "doctor", "--config", str(config), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_whole_doctor_over_the_cli_exits_0_when_all_is_well(tmp_path: Path, store_pki: StorePki) -> None:
    make_database(tmp_path / "state" / "agent.db")
    video = write_scan_video(tmp_path / "shelf.avi", [(None, 5)])
    readers = {"barcode": {"source": str(video)}, "nfc": {"path": f"udp:127.0.0.1:{free_port()}"}}
    bin_dir = _fake_timedatectl(tmp_path / "bin", "echo yes").parent
    with FencedBroker(tmp_path / "fenced-broker", store_pki.root) as fenced:
        tls = store_pki.device(DEVICE).as_agent_tls()
        config = doctor_config(tmp_path, fenced.port, readers=readers, tls=tls)
        done = _doctor_cli(config, "--json", path_dirs=[bin_dir])
        human = _doctor_cli(config, path_dirs=[bin_dir])

    report = DoctorReport.model_validate(json.loads(done.stdout))
    assert [(r.name, r.verdict) for r in report.checks if r.verdict != "ok"] == [], done.stdout
    assert (done.returncode, report.exit_code, report.verdict, report.device) == (0, 0, "ok", DEVICE)
    assert {r.name for r in report.checks} == {
        "config", "state_dir", "wal", "database", "broker", "client_certificate", "fence", "camera", "nfc", "clock",
    }  # fmt: skip

    assert human.returncode == 0
    lines = human.stdout.strip().splitlines()
    assert len(lines) == len(report.checks) + 1  # one line per check, then the verdict
    assert lines[-1].startswith("doctor: ok")


def test_the_cli_exits_2_on_a_failure_and_a_broken_config_runs_nothing_else(tmp_path: Path) -> None:
    config = doctor_config(tmp_path, free_port())  # nothing listens: the broker check fails
    done = _doctor_cli(config, "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 2 == report["exit_code"]
    assert {c["name"]: c["verdict"] for c in report["checks"]}["broker"] == "fail"

    config.write_text(config.read_text().replace("[mqtt]", "[mqtt]\nendpiont = 1"))
    done = _doctor_cli(config, "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 2
    assert [(c["name"], c["verdict"]) for c in report["checks"]] == [("config", "fail")]
    assert "mqtt.endpiont: unknown key" in report["checks"][0]["detail"]
    assert report["device"] is None
