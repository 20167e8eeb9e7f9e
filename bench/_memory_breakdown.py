"""``bench_memory.py --breakdown``: where the agent's RSS goes, import group by import group, and what grows.

Not a bench itself (bench_memory.py imports it for the flag). Two views:
- **import groups**: a fresh interpreter imports what a built agent of one config imports, in groups -- the
  third-party libraries the config needs (their floor), the standard library modules the agent adds, then the
  agent's own packages (domain, contract, config, store, sync, readers, roles, fleet, ...) and finally
  ``build_agent`` -- printing VmRSS and RssAnon after each group and the pydantic models each group defined.
  A module lands in the first group that imports it (a contract model a config module needs counts as config's).
- **tracemalloc in the running agent**: ``edge-agent run`` started under a wrapper that starts tracemalloc and
  dumps a snapshot on SIGUSR1; the bench signals once just after startup and once at the end of the video, then
  prints the top allocations by package at start and the top growth between the two.
Tracing costs memory and time of its own: these runs explain the headline figures, they do not replace them.
"""

from __future__ import annotations

import json
import linecache
import subprocess
import sys
import tracemalloc
from pathlib import Path

import _role_keys as role_keys

TOP = 15
TRACE_FRAMES = 1
"""One frame per allocation: grouping is by file, and deeper tracebacks multiply tracemalloc's own overhead."""

AGENT_GROUPS = (
    *("identifiers", "domain", "identity", "contract", "store", "sync", "readers", "roles", "fleet", "screen"),
    *("asyncapi", "(top-level modules)"),
)
"""The order the agent's own packages are imported in, leaves first; '(top-level modules)' is edge_agent/*.py
(config, agent, wiring, ...)."""
FIRST_MODEL = "import pydantic\nclass _First(pydantic.BaseModel):\n    x: int = 0\n_First(x=1).model_dump_json()"
"""pydantic imports its schema generator, validators and plugin loader (importlib.metadata) on the first model
class: a cost of using pydantic at all, which the import-only floor does not pay."""

LIST_SCRIPT = (
    """
import json, sys
from pathlib import Path
from edge_agent.config import load_config
from edge_agent.wiring import build_agent
config = load_config(sys.argv[1])
"""
    + role_keys.POINT_AT_KEYS
    + """
build_agent(config)
print(json.dumps([[n, getattr(m, "__file__", None) or ""] for n, m in list(sys.modules.items())]))
"""
)
"""argv: the config, then bench/_role_keys.py's key files."""

GROUPS_SCRIPT = (
    """
import gc, importlib, json, sys
from pathlib import Path

def status():
    s = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    return {k: int(s[k].split()[0]) for k in ("VmRSS", "RssAnon")}

def models():
    base = sys.modules.get("pydantic.main")
    if base is None:
        return 0
    seen, todo = set(), [base.BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return len(seen)

groups = json.loads(sys.argv[4])
rows = [["interpreter", 0, status(), 0]]
for label, names in groups:
    before = len(sys.modules)
    if isinstance(names, str):
        exec(names, {})
    for name in names if isinstance(names, list) else ():
        try:
            importlib.import_module(name)
        except Exception:  # a module that only imports in context (a __main__, a platform shim): skip it
            pass
    gc.collect()
    rows.append([label, len(sys.modules) - before, status(), models()])
from edge_agent.config import load_config
from edge_agent.wiring import build_agent
config = load_config(sys.argv[1])
"""
    + role_keys.POINT_AT_KEYS
    + """
before = len(sys.modules)
agent = build_agent(config)
gc.collect()
rows.append(["build_agent (database open, objects made)", len(sys.modules) - before, status(), models()])
print(json.dumps(rows))
"""
)
"""argv: the config, bench/_role_keys.py's two key files, the import groups (JSON)."""

TRACE_WRAPPER = """
import os, runpy, signal, sys, tracemalloc
tracemalloc.start(int(os.environ["BENCH_TRACE_FRAMES"]))
prefix, dumps = os.environ["BENCH_TRACE_PREFIX"], [0]
def dump(*_):
    tracemalloc.take_snapshot().dump(f"{prefix}.{dumps[0]}")
    dumps[0] += 1
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["edge_agent", *sys.argv[1:]]
runpy.run_module("edge_agent", run_name="__main__", alter_sys=True)
"""


def _stdlib_prefixes() -> tuple[str, ...]:
    import sysconfig

    return (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])


def import_groups(config: Path, keys: list[str], env: dict[str, str], cwd: Path) -> list[list[object]]:
    """Rows (group, modules imported, VmRSS MB, RssAnon MB, +RssAnon MB, pydantic models defined); ``keys``:
    bench/_role_keys.py's files."""
    listed = subprocess.run(
        [sys.executable, "-c", LIST_SCRIPT, str(config), *keys], cwd=cwd, env=env, capture_output=True, text=True
    )
    if listed.returncode != 0:
        raise RuntimeError(f"module list failed: {listed.stderr[-2000:]}")
    modules: list[list[str]] = json.loads(listed.stdout.strip().splitlines()[-1])
    bare = set(
        json.loads(
            subprocess.run(
                [sys.executable, "-c", "import sys, json; print(json.dumps(list(sys.modules)))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    )
    stdlib = _stdlib_prefixes()
    third = sorted(n for n, f in modules if "site-packages" in f and not n.startswith(("edge_agent", "_")))
    std = sorted(
        {
            n.split(".")[0]
            for n, f in modules
            if n not in bare and f.startswith(stdlib) and "site-packages" not in f and not n.startswith("_")
        }
    )
    own: dict[str, list[str]] = {g: [] for g in AGENT_GROUPS}
    for name, _ in modules:
        parts = name.split(".")
        if parts[0] != "edge_agent" or name == "edge_agent.__main__":
            continue
        group = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in own) else "(top-level modules)"
        own.setdefault(group, []).append(name)
    libs = ", ".join(sorted({n.split(".")[0] for n in third}))
    groups = [[f"third-party modules the config needs (the floor): {len(third)} of {libs}", third]]
    groups.append(["the first pydantic model class (pydantic's schema machinery)", FIRST_MODEL])
    groups.append([f"standard library the agent adds ({len(std)} packages)", std])
    groups += [
        [f"edge_agent.{g}" if not g.startswith("(") else f"edge_agent {g}", names] for g, names in own.items() if names
    ]
    result = subprocess.run(
        [sys.executable, "-c", GROUPS_SCRIPT, str(config), *keys, json.dumps(groups)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import groups failed: {result.stderr[-2000:]}")
    rows: list[list[object]] = []
    prev_anon, prev_models = None, 0
    for label, count, kb, n_models in json.loads(result.stdout.strip().splitlines()[-1]):
        grew = "" if prev_anon is None else f"{(kb['RssAnon'] - prev_anon) / 1024:+.1f}"
        rows.append(
            [label, count, f"{kb['VmRSS'] / 1024:.1f}", f"{kb['RssAnon'] / 1024:.1f}", grew, n_models - prev_models]
        )
        prev_anon, prev_models = kb["RssAnon"], n_models
    return rows


def trace_argv(config_path: Path, prefix: Path) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment of ``edge-agent run`` under tracemalloc, dumping to ``prefix.N``."""
    env = {"BENCH_TRACE_PREFIX": str(prefix), "BENCH_TRACE_FRAMES": str(TRACE_FRAMES)}
    return [sys.executable, "-c", TRACE_WRAPPER, "run", "--config", str(config_path)], env


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/edge_agent/" in filename:
        return "edge_agent/" + filename.split("/edge_agent/", 1)[1]
    if filename.startswith("<frozen importlib"):
        return "importlib (code objects, module dicts)"
    return "stdlib " + filename.rsplit("/", 1)[-1]


def _by_package(snapshot: tracemalloc.Snapshot) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for stat in snapshot.statistics("filename"):
        key = _package(stat.traceback[0].filename)
        size, count = out.get(key, (0, 0))
        out[key] = (size + stat.size, count + stat.count)
    return out


def trace_rows(prefix: Path) -> tuple[list[list[object]], list[list[object]], int, int]:
    """(top at start, top growth start -> end, total KB at start, total KB at end) from the two dumps."""
    start = tracemalloc.Snapshot.load(f"{prefix}.0")
    end = tracemalloc.Snapshot.load(f"{prefix}.1")
    first, last = _by_package(start), _by_package(end)
    top = sorted(first.items(), key=lambda kv: -kv[1][0])[:TOP]
    start_rows: list[list[object]] = [[k, f"{s / 1024:.0f}", n] for k, (s, n) in top]
    growth = sorted(
        ((k, last[k][0] - first.get(k, (0, 0))[0], last[k][1] - first.get(k, (0, 0))[1]) for k in last),
        key=lambda r: -r[1],
    )[:TOP]
    lines = {}
    for stat in end.compare_to(start, "lineno")[:TOP]:
        frame = stat.traceback[0]
        lines[f"{_package(frame.filename)}:{frame.lineno}"] = linecache.getline(frame.filename, frame.lineno).strip()
    growth_rows: list[list[object]] = [[k, f"{d / 1024:+.0f}", f"{c:+d}"] for k, d, c in growth]
    growth_rows += [[f"line {k}", "", f"`{v[:70]}`"] for k, v in list(lines.items())[:5]]
    total = sum(s for s, _ in first.values()) // 1024, sum(s for s, _ in last.values()) // 1024
    return start_rows, growth_rows, total[0], total[1]


def cleanup(prefix: Path) -> None:
    for n in (0, 1):
        Path(f"{prefix}.{n}").unlink(missing_ok=True)


__all__ = ["cleanup", "import_groups", "trace_argv", "trace_rows"]
