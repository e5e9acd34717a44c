"""Experiments: recorded benchmark results, one *point* per distinct configuration.

On disk (plain JSON beside the entry's ``meta.yaml``; see docs/experiments.md)::

    <repo>/experiment/<alias>/
        meta.yaml                         alias, uid, tags, ckx_experiment: 1, program,
                                          created, updated, points, repetitions
        points/<point id>/point.json      inputs, machine, platform, locks, repetitions,
                                          statistics (one file, rewritten atomically)
        points/<point id>/flat.json       the same flattened to CK keys (##a#b#mean)
        points/<point id>/files/r0001/…   the --print_files of repetition 1, …

A point's id is a digest of its *configuration*: the program (uid), cmd_key, variations, the
env and inputs given on the command line, and the machine (OS, CPU, cores, accelerators).
Recording the same configuration again appends repetitions to the same point. Every write
happens under a cross-process lock on the experiment (``experiment/.<alias>.lock``), through
temp files and renames, so concurrent recorders lose nothing and readers never see half a
file.

Characteristics keys that only describe one run (``summary_text``, ``output_dir``, keys
ending in ``_dir``/``_path``/``_file``/``_text``) are kept in each repetition but left out of
the statistics and tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ckx.core import vocabulary
from ckx.core.errors import NotFoundError, UsageError

LAYOUT_VERSION = 1
POINT_FILE = "point.json"
FLAT_FILE = "flat.json"
_NOISE_KEYS = frozenset({"summary_text", "output_dir", "run_dir"})
_NOISE_SUFFIXES = ("_dir", "_path", "_file", "_text")
#: Options of ``benchmark`` (and of sweeps) that are not inputs of the program run, and the
#: request keys that do not change what is measured (``benchmark``'s own and the kernel's):
#: views of the request vocabulary.
BENCH_ONLY = vocabulary.BENCH_ONLY
BENCH_KEYS = vocabulary.BENCH_KEYS


# --- secrets ------------------------------------------------------------------------------

#: Env keys whose values are never recorded, shown or zipped: shell-style patterns matched
#: case-insensitively. ``CKX_SECRET_ENV`` (comma-separated) adds more.
SECRET_PATTERNS = ("*TOKEN*", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*_KEY", "*CREDENTIAL*")
SECRET_ENV_VAR = "CKX_SECRET_ENV"
REDACTED = "<redacted>"


def secret_patterns(environ: dict[str, str] | None = None) -> list[str]:
    """The default patterns plus those of ``CKX_SECRET_ENV``."""
    env = os.environ if environ is None else environ
    extra = [p.strip() for p in (env.get(SECRET_ENV_VAR) or "").split(",") if p.strip()]
    return [*SECRET_PATTERNS, *extra]


def is_secret_key(key: str, patterns: list[str] | None = None) -> bool:
    from fnmatch import fnmatchcase

    up = str(key).upper()
    for p in patterns or secret_patterns():
        if fnmatchcase(up, p.upper()):
            # ckx's own CKX_*_KEY variables (CKX_CMD_KEY ...) name things, they hold no secret
            if p == "*_KEY" and up.startswith("CKX_"):
                continue
            return True
    return False


#: Inputs of ckx itself that the patterns would take for secrets (``*_KEY``)
_NOT_SECRET_INPUTS = frozenset({"cmd_key"})


def redact(data: Any, patterns: list[str] | None = None) -> tuple[Any, list[str]]:
    """A copy of ``data`` where the values of secret-looking keys of every env mapping (under a
    key ``env`` or ``*_env``, at any depth: the point's inputs, the lock's request and its
    ``adr`` blocks) and of every ``inputs`` mapping (``--hf_token=...`` given as an input of
    the program) are :data:`REDACTED`; and the sorted names that were redacted."""
    pats = patterns or secret_patterns()
    found: set[str] = set()

    def walk(obj: Any, depth: int) -> Any:
        if depth > 64:
            return obj
        if isinstance(obj, list):
            return [walk(v, depth + 1) for v in obj]
        if not isinstance(obj, dict):
            return obj
        out = {}
        for k, v in obj.items():
            if isinstance(v, dict) and (k == "env" or str(k).endswith("_env")):
                out[k] = {
                    ek: _hide(ek, ev, found) if is_secret_key(ek, pats) else walk(ev, depth + 1)
                    for ek, ev in v.items()
                }
            elif isinstance(v, dict) and k == "inputs":
                scanned = {
                    ik: _hide(ik, iv, found) if _secret_input(ik, iv, pats) else iv
                    for ik, iv in v.items()
                }
                out[k] = walk(scanned, depth + 1)  # its own env and inputs mappings too
            else:
                out[k] = walk(v, depth + 1)
        return out

    return walk(data, 0), sorted(found)


def _secret_input(key: Any, value: Any, patterns: list[str]) -> bool:
    """A scalar input whose name looks like a secret's (not one of ckx's own)."""
    if isinstance(value, (dict, list)) or str(key) in _NOT_SECRET_INPUTS:
        return False
    return is_secret_key(str(key), patterns)


def _hide(key: Any, value: Any, found: set[str]) -> Any:
    if value in (REDACTED, None, ""):
        return value
    found.add(str(key))
    return REDACTED


def tell_redacted(ui: Any, names: list[str], what: str) -> None:
    """Say which env keys were left out of something recorded or shared (a warning)."""
    if names:
        ui.warn(
            f"{what} (they look like secrets): {', '.join(names)}; "
            f"{SECRET_ENV_VAR} adds patterns (docs/security.md)"
        )


def redacted_point_files(point_file: Path) -> tuple[bytes, bytes, list[str]] | None:
    """``point.json`` and its ``flat.json`` with secrets redacted, for an archive; None when
    the file is not a readable point."""
    from ckx.core.errors import MetaError

    try:
        data = _read_point(point_file)
    except (MetaError, OSError):
        return None
    clean, names = redact(data)
    point = (json.dumps(clean, indent=1, default=str) + "\n").encode()  # as _write_json does
    flat = (json.dumps(flat_keys(clean), indent=1, default=str) + "\n").encode()
    return point, flat, names


def now_iso() -> str:
    """Local time with milliseconds (so records made within one second still sort)."""
    t = time.time()
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))
        + f".{int(t % 1 * 1000):03d}"
        + time.strftime("%z", time.localtime(t))
    )


def canonical_digest(data: Any, n: int = 16) -> str:
    """A stable hex digest of JSON-able ``data`` (sorted keys, no whitespace)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def is_noise_key(key: str) -> bool:
    """True for characteristics that describe one run only (paths, free text)."""
    last = key.rsplit(".", 1)[-1]
    return last in _NOISE_KEYS or last.endswith(_NOISE_SUFFIXES)


# --- platform --------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _cpu_model() -> str:
    import platform

    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model", "cpu model") and value.strip():
            return value.strip()
    if platform.system() == "Darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
                stdin=subprocess.DEVNULL,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _accelerators() -> list[str]:
    """NVIDIA GPU models from the driver's /proc files, else nvidia-smi (5 s at most)."""
    names = []
    base = Path("/proc/driver/nvidia/gpus")
    if base.is_dir():
        for info in sorted(base.glob("*/information")):
            for line in _read(str(info)).splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
    if names or not shutil.which("nvidia-smi"):
        return names
    import subprocess

    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [x.strip() for x in out.stdout.splitlines() if x.strip()] if out.returncode == 0 else []


def _distro() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def platform_info() -> dict[str, Any]:
    """What the machine is: OS, CPU model and cores, memory, Python, accelerators (cheap)."""
    import platform
    import socket

    return {
        "os": platform.system(),
        "os_release": platform.release(),
        "distro": _distro(),
        "arch": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "accelerators": _accelerators(),
        "hostname": socket.gethostname(),
    }


def machine_of(platform: dict[str, Any]) -> dict[str, Any]:
    """The part of the platform that makes results comparable (not the host name)."""
    return {k: platform.get(k) for k in ("os", "arch", "cpu_model", "cpu_cores", "accelerators")}


# --- configuration and identity ---------------------------------------------------------


def run_inputs(program, cmd_key: str, i: dict[str, Any]) -> dict[str, Any]:
    """The configuration of a benchmark request: what defines a point (besides the machine)."""
    query = i.get("query")
    variations = sorted(f"_{v}" for v in query.variations) if query is not None else []
    variations += sorted(f"-_{v}" for v in query.not_variations) if query is not None else []
    extra = {k: v for k, v in i.items() if k not in BENCH_KEYS and not k.startswith("_")}
    return {
        "program": program.alias,
        "program_uid": program.uid,
        "cmd_key": cmd_key,
        "variations": variations,
        "env": {str(k): str(v) for k, v in sorted((i.get("env") or {}).items())},
        "inputs": {k: extra[k] for k in sorted(extra)},
    }


def point_id(inputs: dict[str, Any], machine: dict[str, Any]) -> str:
    """The stable id of a configuration (16 hex); the program alias does not count, its uid does."""
    ident = {k: v for k, v in inputs.items() if k != "program"}
    return canonical_digest({"inputs": ident, "machine": machine})


def lock_digest(lock: dict[str, Any] | None) -> str | None:
    """A digest of a plan lock that ignores when it was made and what was cached."""
    if not lock:
        return None
    nodes = [
        {k: n.get(k) for k in ("path", "uid", "variations", "version", "meta_sha256", "files")}
        for n in lock.get("nodes") or []
    ]
    return canonical_digest({"request": lock.get("request"), "nodes": nodes})


def default_name(program_alias: str, cmd_key: str) -> str:
    """A readable unique name: ``od-bench-performance-singlestream-20261123-0501-3fa2``."""
    return f"{program_alias}-{cmd_key}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"


# --- reading ----------------------------------------------------------------------------


@dataclass
class Point:
    """One recorded configuration of an experiment (the content of ``point.json``)."""

    id: str
    path: Path
    data: dict[str, Any] = field(repr=False)

    @property
    def inputs(self) -> dict[str, Any]:
        return self.data.get("inputs") or {}

    @property
    def repetitions(self) -> list[dict[str, Any]]:
        return self.data.get("repetitions") or []

    @property
    def statistics(self) -> dict[str, dict[str, Any]]:
        return self.data.get("statistics") or {}

    def latest_lock(self) -> dict[str, Any] | None:
        locks = self.data.get("locks") or {}
        for rep in reversed(self.repetitions):
            if rep.get("lock_sha256") in locks:
                return locks[rep["lock_sha256"]]
        return next(iter(locks.values()), None)

    def input_values(self) -> dict[str, Any]:
        """Dotted key -> value of the configuration and the machine (``cmd_key``, ``env.X``, ``platform.os``)."""
        inp = self.inputs
        out: dict[str, Any] = {"program": inp.get("program"), "cmd_key": inp.get("cmd_key")}
        if inp.get("variations"):
            out["variations"] = ",".join(inp["variations"])
        for k, v in (inp.get("env") or {}).items():
            out[f"env.{k}"] = v
        for k, v in (inp.get("inputs") or {}).items():
            out[f"inputs.{k}"] = v
        for k, v in (self.data.get("platform") or {}).items():
            if k in ("cpu_model", "cpu_cores", "os", "accelerators", "python"):
                out[f"platform.{k}"] = ",".join(v) if isinstance(v, list) else v
        return out

    def input_keys(self) -> list[str]:
        return list(self.input_values())

    def values(self, stat: str = "mean") -> dict[str, Any]:
        """Dotted key -> one value: the point, its inputs and platform, each characteristic's ``stat``."""
        out: dict[str, Any] = {
            "point": self.id,
            "repetitions": len(self.repetitions),
            **self.input_values(),
        }
        for k, s in self.statistics.items():
            if (
                is_noise_key(k) or k in out
            ):  # a result that repeats an input (cmd_key) stays the input
                continue
            out[k] = s.get(stat) if "values" not in s else _join_values(s["values"])
        return out

    def stat_of(self, key: str) -> dict[str, Any] | None:
        return self.statistics.get(key)


def _join_values(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else "|".join(map(str, values))


def load_points(entry_path: Path) -> list[Point]:
    """Every complete point of the experiment at ``entry_path``, oldest first."""
    base = Path(entry_path) / "points"
    out: list[Point] = []
    if not base.is_dir():
        return out
    for d in sorted(base.iterdir()):
        f = d / POINT_FILE
        if d.name.startswith(".") or not f.is_file():
            continue
        out.append(Point(id=d.name, path=d, data=_read_point(f)))
    out.sort(key=lambda p: (p.data.get("created") or "", p.id))
    return out


def _read_point(f: Path) -> dict[str, Any]:
    """A point file, bounded in depth (a hostile file is one MetaError naming it, never a
    crash); its size is its own (JSON has no aliases to expand)."""
    from ckx.core.errors import MetaError
    from ckx.core.metafile import check_bounds

    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # bad JSON, huge ints, too deep, not UTF-8
        raise MetaError(
            f"{f}: not a readable point file ({str(e).splitlines()[0][:200]})"
        ) from None
    if not isinstance(data, dict):
        raise MetaError(f"{f}: not a readable point file (not a JSON object)")
    check_bounds(data, f, max_nodes=1 << 62)
    return data


def find_point(points: list[Point], pid: str | None, where: str) -> Point:
    """The point whose id starts with ``pid``; the latest updated one when ``pid`` is None."""
    if not points:
        raise NotFoundError(
            f"{where} has no recorded points", hint="record one with: ckx benchmark ... --record"
        )
    if pid is None:
        return max(points, key=lambda p: (p.data.get("updated") or "", p.id))
    hits = [p for p in points if p.id.startswith(str(pid))]
    if len(hits) != 1:
        from ckx.core.suggest import did_you_mean

        what = "no point" if not hits else f"{len(hits)} points"
        raise NotFoundError(
            f"{what} '{pid}' in {where}" + did_you_mean(str(pid), [p.id for p in points]),
            hint="points: " + ", ".join(p.id for p in points),
        )
    return hits[0]


# --- writing ----------------------------------------------------------------------------


@dataclass
class Recorded:
    """Where a repetition went."""

    path: Path
    point: str
    repetition: int
    created_experiment: bool
    created_point: bool
    files: list[str]
    redacted: list[str] = field(default_factory=list)  # secret-looking keys not recorded


def _write_json(path: Path, data: Any) -> None:
    from ckx.core import atomic

    atomic.write_text(path, json.dumps(data, indent=1, default=str) + "\n")


def _new_meta(name: str, tags: list[str], program: str) -> dict[str, Any]:
    from ckx.core.entries import new_uid

    t = now_iso()
    return {
        "alias": name,
        "uid": new_uid(),
        "automation_alias": "experiment",
        "tags": list(tags),
        "ckx_experiment": LAYOUT_VERSION,
        "program": program,
        "created": t,
        "updated": t,
        "points": 0,
        "repetitions": 0,
    }


def experiment_lock(exp_dir: Path, what: str, timeout: float = 300.0):
    """The cross-process lock every writer of the experiment at ``exp_dir`` holds."""
    from ckx.core.locks import path_lock

    return path_lock(exp_dir.parent / f".{exp_dir.name}", timeout=timeout, what=what)


def ensure_experiment(exp_dir: Path, name: str, tags: list[str], program: str) -> bool:
    """Create the experiment entry unless it exists (call it holding :func:`experiment_lock`)."""
    return _ensure_entry(exp_dir, name, tags, program)


def _ensure_entry(dest: Path, name: str, tags: list[str], program: str) -> bool:
    """Create the experiment entry (temp folder + rename) unless it exists; True if created."""
    from ckx.core.metafile import find_meta_file, save_meta

    if dest.is_dir() and find_meta_file(dest):
        return False
    if dest.exists():
        raise UsageError(
            f"{dest} exists but is not an experiment entry (no meta file)",
            hint="remove it or record under another --record_uoa",
        )
    tmp = dest.parent / f".tmp-exp-{os.urandom(4).hex()}"
    tmp.mkdir(parents=True)
    try:
        save_meta(tmp / "meta.yaml", _new_meta(name, tags, program))
        (tmp / "points").mkdir()
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def _copy_files(files: dict[str, Path], target: Path) -> list[str]:
    """Copy ``files`` (relative name -> source) into the new folder ``target`` atomically."""
    if target.exists():  # an orphan of a crashed recorder: we hold the lock, nobody else owns it
        shutil.rmtree(target)
    tmp = target.parent / f".tmp-{target.name}-{os.urandom(3).hex()}"
    tmp.mkdir(parents=True)
    try:
        for rel, src in files.items():
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(files)


def record_repetition(
    exp_dir: Path,
    *,
    name: str,
    tags: list[str],
    inputs: dict[str, Any],
    platform: dict[str, Any],
    repetition: dict[str, Any],
    lock: dict[str, Any] | None,
    files: dict[str, Path],
    lock_timeout: float = 300.0,
) -> Recorded:
    """Append one repetition to the point of ``inputs`` in experiment ``exp_dir`` (created if missing).

    ``repetition`` holds at least ``characteristics``; ``files`` maps names relative to the
    run folder to the files to keep. The whole update runs under the experiment's lock.
    """
    return record_repetitions(
        exp_dir,
        name=name,
        tags=tags,
        inputs=inputs,
        platform=platform,
        repetitions=[(repetition, lock, files)],
        lock_timeout=lock_timeout,
    )


def record_repetitions(
    exp_dir: Path,
    *,
    name: str,
    tags: list[str],
    inputs: dict[str, Any],
    platform: dict[str, Any],
    repetitions: list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Path]]],
    lock_timeout: float = 300.0,
    also: Callable[[str, int], None] | None = None,
) -> Recorded:
    """Append ``(repetition, lock, files)`` triples to the point of ``inputs`` in one locked
    update: a reader sees all of them or none (a sweep point is never half-recorded).
    ``also(point_id, repetitions)`` runs inside the same lock (a sweep notes the point there)."""
    exp_dir = Path(exp_dir)
    machine = machine_of(platform)
    inputs, hidden = redact(inputs)  # before the id: a new token is not a new configuration
    redacted = set(hidden)
    pid = point_id(inputs, machine)
    with experiment_lock(exp_dir, f"record into experiment {name}", lock_timeout):
        created = _ensure_entry(exp_dir, name, tags, str(inputs.get("program")))
        pdir = exp_dir / "points" / pid
        pfile = pdir / POINT_FILE
        new_point = not pfile.is_file()
        data = _new_point(pid, inputs, machine, platform) if new_point else _read_point(pfile)
        pdir.mkdir(parents=True, exist_ok=True)
        rep: dict[str, Any] = {}
        for repetition, lock, files in repetitions:
            lock, names = redact(lock) if lock else (lock, [])
            redacted.update(names)
            rep = _append_repetition(data, pdir, repetition, lock, files)
        data["platform"] = platform  # the latest; the machine (identity) is the same
        data["statistics"] = statistics_of(data["repetitions"])
        _write_json(pfile, data)
        _write_json(pdir / FLAT_FILE, flat_keys(data))
        _update_meta(exp_dir, tags)
        if also is not None:
            also(pid, len(data["repetitions"]))
    return Recorded(
        path=exp_dir,
        point=pid,
        repetition=len(data["repetitions"]),
        created_experiment=created,
        created_point=new_point,
        files=rep.get("files") or [],
        redacted=sorted(redacted),
    )


def _new_point(
    pid: str, inputs: dict[str, Any], machine: dict[str, Any], platform: dict[str, Any]
) -> dict[str, Any]:
    t = now_iso()
    return {
        "ckx_experiment_point": LAYOUT_VERSION,
        "id": pid,
        "created": t,
        "updated": t,
        "inputs": inputs,
        "machine": machine,
        "platform": platform,
        "locks": {},
        "repetitions": [],
        "statistics": {},
    }


def _append_repetition(
    data: dict[str, Any],
    pdir: Path,
    repetition: dict[str, Any],
    lock: dict[str, Any] | None,
    files: dict[str, Path],
) -> dict[str, Any]:
    n = len(data["repetitions"]) + 1
    rep = {"n": n, "time": now_iso(), **repetition}
    ldig = lock_digest(lock)
    if ldig:
        data["locks"].setdefault(ldig, lock)
        rep["lock_sha256"] = ldig
    rep["files"] = _copy_files(files, pdir / "files" / f"r{n:04d}") if files else []
    data["repetitions"].append(rep)
    data["updated"] = rep["time"]
    return rep


def statistics_of(repetitions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Statistics of the repetitions' characteristics (noise keys left out)."""
    from ckx.experiments.stats import summarize_records

    stats = summarize_records(r.get("characteristics") or {} for r in repetitions)
    return {k: v for k, v in stats.items() if not is_noise_key(k)}


def _update_meta(exp_dir: Path, tags: list[str]) -> None:
    from ckx.core.metafile import find_meta_file, load_meta, save_meta

    mf = find_meta_file(exp_dir)
    if mf is None:
        from ckx.core.errors import MetaError

        raise MetaError(f"{exp_dir}: the experiment has no meta file")
    meta = load_meta(mf)
    points = load_points(exp_dir)
    meta["tags"] = list(dict.fromkeys([*(meta.get("tags") or []), *tags]))
    meta["points"] = len(points)
    meta["repetitions"] = sum(len(p.repetitions) for p in points)
    meta["updated"] = now_iso()
    save_meta(mf, meta)


def flat_keys(point: dict[str, Any]) -> dict[str, Any]:
    """CK's flat view of a point: ``##inputs#cmd_key``, ``##characteristics#x#mean``, ``…#all``."""
    out: dict[str, Any] = {}
    from ckx.experiments.stats import flatten

    for section in ("inputs", "machine"):
        for k, v in flatten(point.get(section) or {}, sep="#").items():
            out[f"##{section}#{k}"] = v
    reps = point.get("repetitions") or []
    for k, s in (point.get("statistics") or {}).items():
        base = "##characteristics#" + k.replace(".", "#")
        for sk, sv in s.items():
            out[f"{base}#{sk}"] = sv
        out[f"{base}#all"] = [_get_dotted(r.get("characteristics") or {}, k) for r in reps]
    out["##repeats"] = len(reps)
    return out


def _get_dotted(d: dict[str, Any], key: str) -> Any:
    from ckx.experiments.stats import flatten

    return flatten(d).get(key)


# --- tables -----------------------------------------------------------------------------

STATS = ("mean", "median", "min", "max", "stdev", "range_percent", "n")


def fmt(value: Any) -> str:
    """A number as a person reads it: integers whole, others to 4 significant digits."""
    from ckx.experiments.stats import is_number

    if value is None:
        return "-"
    if isinstance(value, bool) or not is_number(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.1f}"
    return f"{value:.4g}"


def cell(point: Point, key: str, stat: str) -> str:
    """A table cell: the value, and the spread ``±r%`` for a numeric key with several repetitions."""
    s = point.stat_of(key)
    if s is None or "values" in s:
        return fmt(point.values(stat).get(key))
    text = fmt(s.get(stat))
    if stat in ("mean", "median") and s.get("n", 1) > 1 and (s.get("range_percent") or 0) >= 0.05:
        text += f" ±{s['range_percent']:.1f}%"
    return text


def all_keys(points: list[Point], stat: str = "mean") -> list[str]:
    """Every dotted key of ``points`` in a stable order: point info, inputs, platform, results."""
    keys: dict[str, None] = {}
    for p in points:
        keys.update(dict.fromkeys(p.values(stat)))
    return list(keys)


def resolve_key(points: list[Point], key: str, stat: str = "mean") -> str:
    """A user's key (``samples_per_second``, ``latency_ns.p50``, ``##characteristics#x``) -> a table key."""
    if key.startswith("##"):
        key = key[2:].replace("#", ".")
        if key.startswith("characteristics."):
            key = key[len("characteristics.") :]
    keys = all_keys(points, stat)
    if key in keys:
        return key
    hits = [k for k in keys if k.endswith("." + key)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise UsageError(
            f"key '{key}' is ambiguous: " + ", ".join(hits), hint="write the longer name"
        )
    from ckx.core.suggest import did_you_mean

    raise NotFoundError(
        f"no key '{key}' in the recorded points" + did_you_mean(key, keys),
        hint="keys: " + ", ".join(keys),
    )


def sort_points(points: list[Point], key: str | None, stat: str = "mean") -> list[Point]:
    """``points`` ordered by ``key`` (a leading ``-`` sorts descending); numbers before text."""
    if not key:
        return points
    desc = key.startswith("-")
    k = resolve_key(points, key.lstrip("-"), stat)

    def order(p: Point):
        from ckx.experiments.stats import is_number

        v = p.values(stat).get(k)
        return (0, float(v), "") if is_number(v) else (1, 0.0, str(v))  # type: ignore[arg-type]

    return sorted(points, key=order, reverse=desc)


@dataclass
class Table:
    """A table of strings: ``header`` then ``rows`` of the same width."""

    header: list[str]
    rows: list[list[str]]

    def text(self) -> str:
        widths = [
            max(len(r[c]) for r in [self.header, *self.rows]) for c in range(len(self.header))
        ]
        lines = [
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
            for r in [self.header, *self.rows]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def markdown(self) -> str:
        def row(r: list[str]) -> str:
            return "| " + " | ".join(v.replace("|", "\\|") for v in r) + " |"

        return "\n".join(
            [
                row(self.header),
                "|" + "|".join("---" for _ in self.header) + "|",
                *(row(r) for r in self.rows),
            ]
        )

    def csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        return buf.getvalue()

    def transposed(self) -> Table:
        cols = [self.header, *self.rows]
        return Table(
            header=[c[0] for c in cols],
            rows=[[c[k] for c in cols] for k in range(1, len(self.header))],
        )


def points_table(
    points: list[Point],
    *,
    stat: str = "mean",
    only_changed: bool = False,
    columns: list[str] | None = None,
) -> Table:
    """Keys as rows, points as columns (``Table.transposed()`` gives one row per point)."""
    if stat not in STATS:
        raise UsageError(f"unknown statistic '{stat}'", hint="one of: " + ", ".join(STATS))
    keys = [resolve_key(points, c, stat) for c in columns] if columns else all_keys(points, stat)
    if only_changed:
        keys = [
            k
            for k in keys
            if k == "point" or len({repr(p.values(stat).get(k)) for p in points}) > 1
        ]
    keys = [k for k in keys if k != "point"]
    header = ["key", *(p.id[:8] for p in points)]
    rows = [[k, *(cell(p, k, stat) for p in points)] for k in keys]
    return Table(header=header, rows=rows)


def raw_table(
    points: list[Point],
    *,
    stat: str = "mean",
    only_changed: bool = False,
    columns: list[str] | None = None,
) -> Table:
    """One row per point with raw values (for CSV): ``point`` then the keys."""
    t = points_table(points, stat=stat, only_changed=only_changed, columns=columns)
    keys = [r[0] for r in t.rows]
    rows = [[p.id, *(_raw(p.values(stat).get(k)) for k in keys)] for p in points]
    return Table(header=["point", *keys], rows=rows)


def _raw(v: Any) -> str:
    return "" if v is None else str(v)


def compare_table(
    columns: list[tuple[str, Point]], stat: str = "mean", only_changed: bool = False
) -> tuple[Table, Table]:
    """(inputs that differ, metrics side by side with ratios to the first column)."""
    from ckx.experiments.stats import is_number

    points = [p for _, p in columns]
    labels = [label for label, _ in columns]
    keys = all_keys(points, stat)
    input_keys = list(dict.fromkeys(k for p in points for k in p.input_keys()))
    metric_keys = [k for k in keys if k not in input_keys and k not in ("point", "repetitions")]
    diff_rows = []
    for k in input_keys:
        vals = [p.values(stat).get(k) for p in points]
        if len({repr(v) for v in vals}) > 1:
            diff_rows.append([k, *(fmt(v) for v in vals)])
    diffs = Table(header=["input", *labels], rows=diff_rows)
    base = points[0]
    header = ["metric", *labels, *(f"{lab}/{labels[0]}" for lab in labels[1:])]
    rows = [["repetitions", *(str(len(p.repetitions)) for p in points), *("" for _ in points[1:])]]
    for k in metric_keys:
        if only_changed and len({repr(p.values(stat).get(k)) for p in points}) == 1:
            continue
        b = base.values(stat).get(k)
        ratios = []
        for p in points[1:]:
            v = p.values(stat).get(k)
            ok = is_number(v) and is_number(b) and b != 0
            ratios.append(f"{float(v) / float(b):.3f}x" if ok else "")  # type: ignore[arg-type]
        rows.append([k, *(cell(p, k, stat) for p in points), *ratios])
    return diffs, Table(header=header, rows=rows)
