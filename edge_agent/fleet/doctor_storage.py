"""The doctor's storage checks: the state directory, WAL on its filesystem, and the agent's database.

The agent's own file is only ever opened read-only (edge_agent/store/readonly.py) and never created; the WAL
check writes a scratch database of its own next to it and removes it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import sqlite3
import stat
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from edge_agent.fleet import doctor_const as const
from edge_agent.fleet.doctor import Fact, Finding, combine, fail, ok, warn
from edge_agent.store import readonly
from edge_agent.store.db import StorageError, connect, transaction

MIB = 1024 * 1024
_STOP_AGENT = "stop the agent first (systemctl stop edge-agent)"


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _service_uid() -> int | None:
    try:
        return pwd.getpwnam(const.SERVICE_USER).pw_uid
    except KeyError:  # a developer's machine: no service user to compare with
        return None


def _missing(directory: Path) -> Finding:
    return warn(
        "does not exist yet",
        "systemd creates it when edge-agent.service starts (StateDirectory=); if the service has started, "
        "storage.path or $EDGE_AGENT_STATE_DIR points somewhere else than the agent uses",
    )


@dataclass(frozen=True)
class StateDirCheck:
    """Owner, mode, a writable filesystem and free space where the database lives."""

    directory: Path
    name: str = "state_dir"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return str(self.directory)

    def run(self) -> Finding:
        d = self.directory
        try:
            st = d.stat()
        except FileNotFoundError:
            return _missing(d)
        if not stat.S_ISDIR(st.st_mode):
            return fail(
                f"{d} is not a directory", f"remove it or point storage.path elsewhere: {d} must be a directory"
            )
        fs = os.statvfs(d)
        free = fs.f_bavail * fs.f_frsize
        mode = stat.S_IMODE(st.st_mode)
        owner = _owner(st.st_uid)
        facts: dict[str, Fact] = {
            "owner": owner,
            "mode": f"{mode:04o}",
            "free_bytes": free,
            "read_only": bool(fs.f_flag & os.ST_RDONLY),
        }
        read_only = self._writable(fs)
        space = self._free(free) if read_only.verdict == "ok" else ok("space")  # nothing can be freed there
        found = [read_only, space, self._mode(mode), self._owned(st.st_uid, owner)]
        return combine(found, f"owner {owner}, mode {mode:04o}, {free / MIB:.0f} MiB free", **facts)

    def _writable(self, fs: os.statvfs_result) -> Finding:
        if not fs.f_flag & os.ST_RDONLY:
            return ok("writable")
        return fail(
            "its filesystem is mounted read-only",
            "an SD card is remounted read-only after I/O errors: see `dmesg | grep -i -e remount -e error`, "
            "then fsck or replace the card; or /etc/fstab mounts it ro",
        )

    def _free(self, free: int) -> Finding:
        where = f"free space on the filesystem of {self.directory} (`df -h {self.directory}`, "
        where += "`journalctl --vacuum-size=50M`, old files): the agent cannot save scans when it is full"
        if free < const.FREE_FAIL_BYTES:
            return fail(f"only {free / MIB:.1f} MiB free (under {const.FREE_FAIL_BYTES // MIB} MiB)", where)
        if free < const.FREE_WARN_BYTES:
            return warn(f"only {free / MIB:.0f} MiB free (under {const.FREE_WARN_BYTES // MIB} MiB)", where)
        return ok("space")

    def _mode(self, mode: int) -> Finding:
        fix = f"chmod {const.STATE_DIR_MODE:o} {self.directory} (the unit's StateDirectoryMode)"
        if mode & stat.S_IWOTH:
            return fail(f"mode {mode:04o}: anyone can write the baskets' database", fix)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            return warn(f"mode {mode:04o}: others can read baskets and identities", fix)
        return ok("mode")

    def _owned(self, uid: int, owner: str) -> Finding:
        service = _service_uid()
        if service is None or uid == service:
            return ok("owner")
        return warn(
            f"owned by {owner}, but the service runs as {const.SERVICE_USER}",
            f"chown -R {const.SERVICE_USER}:{const.SERVICE_USER} {self.directory}",
        )


@dataclass(frozen=True)
class WalCheck:
    """Can this filesystem do WAL? The agent refuses to start without it (some network and FUSE mounts cannot)."""

    directory: Path
    name: str = "wal"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return str(self.directory)

    def run(self) -> Finding:
        if not self.directory.is_dir():
            return _missing(self.directory)
        scratch = self.directory / f"{const.WAL_SCRATCH_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.db"
        try:
            # The agent's own open (WAL, synchronous=FULL, asserted), then one real commit through the WAL.
            with closing(connect(scratch)) as conn, transaction(conn):
                conn.execute("CREATE TABLE probe(x BLOB)")
                conn.execute("INSERT INTO probe VALUES (zeroblob(4096))")
        except StorageError as exc:
            return fail(
                f"this filesystem cannot do WAL ({exc})",
                "put the state directory on a local filesystem (ext4 on the SD card), not a network or FUSE mount",
            )
        except (sqlite3.Error, OSError) as exc:
            return fail(f"cannot write a database here: {exc}", _write_fix(exc, self.directory))
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):  # never created, or a read-only filesystem
                    Path(f"{scratch}{suffix}").unlink()
        return ok("a scratch database in WAL mode was written and removed")


def _write_fix(exc: sqlite3.Error | OSError, directory: Path) -> str:
    if os.statvfs(directory).f_flag & os.ST_RDONLY:  # SQLite only says "unable to open database file"
        return f"the filesystem of {directory} is mounted read-only: see the state_dir check"
    if "full" in str(exc).lower():
        return f"free space on the filesystem of {directory} (`df -h {directory}`)"
    return f"the user running the agent must be able to write {directory}: chown {const.SERVICE_USER} {directory}"


@dataclass(frozen=True)
class DatabaseCheck:
    """`PRAGMA quick_check` of the agent's database, read-only; a missing file is not created."""

    path: Path
    name: str = "database"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return str(self.path)

    def run(self) -> Finding:
        if not self.path.exists():
            return warn(
                "no database yet",
                "none is needed before the agent's first start; if it has run, storage.path or "
                "$EDGE_AGENT_STATE_DIR differs from what the service uses",
            )
        size = self.path.stat().st_size
        try:
            problems = readonly.quick_check(
                self.path,
                timeout_s=const.QUICK_CHECK_TIMEOUT_S,
                max_errors=const.QUICK_CHECK_MAX_ERRORS,
                progress_ops=const.QUICK_CHECK_PROGRESS_OPS,
            )
        except sqlite3.DatabaseError as exc:
            if "unable to open" in str(exc):
                return fail(f"cannot be opened: {exc}", f"run the doctor as the service user or root; {_STOP_AGENT}")
            problems = [str(exc)]
        if problems is None:
            return warn(
                f"quick_check did not finish within {const.QUICK_CHECK_TIMEOUT_S:g} s ({size / MIB:.0f} MiB)",
                "run it again while the store is quiet",
                size_bytes=size,
            )
        if problems:
            return fail(
                f"corrupt: {'; '.join(problems)}",
                f"{_STOP_AGENT}; move {self.path} and its -wal and -shm files aside (never delete them: ops not yet "
                "confirmed are in them), start the agent on a new database, and see README 'Troubleshooting'",
                size_bytes=size,
            )
        return ok(f"quick_check ok ({size / MIB:.1f} MiB)", size_bytes=size)
