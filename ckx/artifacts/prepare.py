"""Package artefacts: the meta ``download`` block, fetched into the store and placed in a folder.

A package meta lists the files it needs::

    download:
      - url: http://images.cocodataset.org/zips/val2017.zip   # or urls: [...] (tried in order)
        filename: val2017.zip        # default: the last part of the first URL
        size: 815585330              # checked when given
        md5: 442b8da7639aecaf257c1dceb8ba8c80    # and/or sha256: ...
        extract: true                # unpack (zip, tar, tar.gz/bz2/xz) instead of linking the file
        strip_components: 0          # like tar --strip-components
        dest: .                      # folder (relative to the package folder) receiving it
        expect: [val2017/000000000139.jpg]   # must exist afterwards (and in a --path folder)
        env: {CKX_DATASET_IMAGES_PATH: val2017}   # env var -> path relative to the folder
      - rclone: mlc-cognata:mlc_cognata_dataset/preprocessed_2d/val_2d.tar.gz  # gated data
        filename: val_2d.tar.gz

:func:`prepare_downloads` (called by the engine in the node's working folder) fetches every
item (store → mirrors → origin URLs or rclone remote; see :mod:`ckx.artifacts.download`), and only when
*all* of them are verified places them: files are linked from the content-addressed store,
archives extracted, all in a staging folder moved into place at the end. A failure leaves
the working folder as it was. A ``--path`` (or ``CKX_PACKAGE_PATH``, set by a ``_path.#``
variation) names an existing copy instead: it is validated and registered, never copied.

What was placed is recorded in ``ckx-artifacts.json`` so that a cached result can be checked
with :func:`check_prepared`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.artifacts.archive import detect_kind, extract
from ckx.artifacts.cas import ObjectStore, hash_file
from ckx.artifacts.download import Artifact, FetchResult, KnownHashes, fetch
from ckx.artifacts.mirror import mirrors_from_env
from ckx.artifacts.rclone import fetch_rclone
from ckx.core.errors import (
    ArchiveError,
    ChecksumError,
    ConflictError,
    DownloadError,
    MetaError,
    NotFoundError,
)
from ckx.core.progress import Progress

if TYPE_CHECKING:
    from ckx.core.context import Context

MANIFEST = "ckx-artifacts.json"
PATH_ENV = "CKX_PACKAGE_PATH"  # what a `_path.#` variation sets
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SUBST = re.compile(r"<<<([A-Za-z_][A-Za-z0-9_]*)>>>")
_ITEM_FIELDS = {
    "url",
    "urls",
    "filename",
    "size",
    "sha256",
    "md5",
    "name",
    "extract",
    "strip_components",
    "dest",
    "expect",
    "env",
    "rclone",
    "git",
    "checkout",
    "submodules",
    "commit_env",
}


@dataclass
class DownloadItem:
    """One entry of a ``download`` block, validated."""

    artifact: Artifact
    extract: bool = False
    strip_components: int = 0
    dest: str = "."
    expect: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    rclone: str | None = None
    git: str | None = None  # a source checkout (see ckx.artifacts.gitsrc) instead of a file
    checkout: str | None = None
    submodules: bool = False
    commit_env: str | None = None

    @property
    def placed_file(self) -> str:
        """Where a non-extracted file lands, relative to the package folder."""
        return _join(self.dest, self.artifact.filename)

    def expected_paths(self) -> list[str]:
        """What must exist in the package folder once this item is in place."""
        if self.expect:
            return list(self.expect)
        return [self.dest] if self.extract else [self.placed_file]


# --- parsing -----------------------------------------------------------------------------


def parse_download_block(
    meta: Mapping[str, Any], env: Mapping[str, Any] | None = None, where: str = "meta"
) -> list[DownloadItem]:
    """The meta's ``download`` list as items (``<<<KEY>>>`` in strings replaced from ``env``).

    A single mapping is accepted as a one-item list. Raises :class:`MetaError` naming
    ``where``, the item and the field for anything malformed.
    """
    block = meta.get("download")
    if block is None:
        return []
    if isinstance(block, dict):
        block = [block]
    if not isinstance(block, list):
        raise MetaError(f"{where}: field 'download' must be a list of mappings")
    return [
        _parse_item(_substitute(raw, env or {}), f"{where}: download[{k}]")
        for k, raw in enumerate(block)
    ]


def plan_artifacts(meta: Mapping[str, Any], env: Mapping[str, Any] | None = None) -> list[Artifact]:
    """The artefacts a package meta (variations applied) needs, for ``ckx prefetch``."""
    return [item.artifact for item in parse_download_block(meta, env)]


def _parse_item(raw: Any, where: str) -> DownloadItem:
    if not isinstance(raw, dict):
        raise MetaError(f"{where}: must be a mapping with url/urls/rclone and filename")
    unknown = sorted(set(raw) - _ITEM_FIELDS)
    if unknown:
        raise MetaError(
            f"{where}: unknown field '{unknown[0]}'",
            hint="known fields: " + ", ".join(sorted(_ITEM_FIELDS)),
        )
    if raw.get("git") is not None:
        return _parse_git_item(raw, where)
    rclone = raw.get("rclone")
    if rclone is not None and (not isinstance(rclone, str) or ":" not in rclone):
        raise MetaError(f"{where}: field 'rclone' must be 'remote:path', got {rclone!r}")
    if not (raw.get("url") or raw.get("urls") or rclone):
        raise MetaError(f"{where}: needs 'url', 'urls', 'rclone' or 'git'")
    if any(raw.get(k) is not None for k in ("checkout", "submodules", "commit_env")):
        raise MetaError(f"{where}: 'checkout', 'submodules' and 'commit_env' go with 'git'")
    spec = dict(raw)
    if rclone and not spec.get("filename"):
        spec["filename"] = rclone.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    try:
        artifact = Artifact.from_meta(spec)
    except Exception as exc:  # UsageError from a bad filename
        raise MetaError(f"{where}: {exc}") from None
    _check_types(artifact, raw, where)
    return DownloadItem(
        artifact=artifact,
        extract=bool(raw.get("extract", False)),
        strip_components=int(raw.get("strip_components", 0)),
        dest=_relative(str(raw.get("dest", ".")), where, "dest"),
        expect=[_relative(str(p), where, "expect") for p in raw.get("expect") or []],
        env=_env_map(raw.get("env") or {}, where),
        rclone=rclone,
    )


def _parse_git_item(raw: dict, where: str) -> DownloadItem:
    from ckx.artifacts.gitsrc import repo_name

    url = raw["git"]
    if not isinstance(url, str) or not url.strip():
        raise MetaError(f"{where}: field 'git' must be a repository URL")
    for k in ("url", "urls", "rclone", "size", "sha256", "md5", "extract", "strip_components"):
        if k in raw:
            raise MetaError(f"{where}: field '{k}' does not go with 'git' (a checkout, not a file)")
    commit_env = raw.get("commit_env")
    if commit_env is not None and not _ENV_NAME.match(str(commit_env)):
        raise MetaError(f"{where}: commit_env {commit_env!r} is not an env var name")
    name = repo_name(url)
    return DownloadItem(
        artifact=Artifact(filename=name, urls=[url], name=raw.get("name") or f"{name} (git)"),
        extract=True,  # a folder: its expected paths are checked, never a file checksum
        dest=_relative(str(raw.get("dest", name)), where, "dest"),
        expect=[_relative(str(p), where, "expect") for p in raw.get("expect") or []],
        env=_env_map(raw.get("env") or {}, where),
        git=url,
        checkout=str(raw["checkout"]) if raw.get("checkout") not in (None, "") else None,
        submodules=bool(raw.get("submodules", False)),
        commit_env=str(commit_env) if commit_env else None,
    )


def _check_types(artifact: Artifact, raw: dict, where: str) -> None:
    if artifact.size is not None and (not isinstance(artifact.size, int) or artifact.size < 0):
        raise MetaError(f"{where}: field 'size' must be a byte count, got {artifact.size!r}")
    for algo, length in (("sha256", 64), ("md5", 32)):
        value = getattr(artifact, algo)
        if value is not None and not re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", str(value)):
            raise MetaError(f"{where}: field '{algo}' must be {length} hex digits, got {value!r}")
    strip = raw.get("strip_components", 0)
    if not isinstance(strip, int) or strip < 0:
        raise MetaError(f"{where}: field 'strip_components' must be an integer >= 0")
    if artifact.filename in (MANIFEST,):
        raise MetaError(f"{where}: file name {artifact.filename!r} is reserved")


def _relative(path: str, where: str, name: str) -> str:
    norm = os.path.normpath(path.replace("\\", "/"))
    if os.path.isabs(path) or norm == ".." or norm.startswith("../"):
        raise MetaError(
            f"{where}: field '{name}' must be a path inside the package folder, got {path!r}"
        )
    return norm


def _env_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MetaError(f"{where}: field 'env' must map env var names to relative paths")
    out = {}
    for key, rel in value.items():
        if not _ENV_NAME.match(str(key)):
            raise MetaError(f"{where}: env key {key!r} is not an env var name")
        out[str(key)] = _relative(str(rel), where, f"env.{key}")
    return out


def _substitute(obj: Any, env: Mapping[str, Any]) -> Any:
    """MLCFlow's ``<<<KEY>>>`` substitution in strings; an unset key is an error."""
    if isinstance(obj, str):

        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise MetaError(
                    f"download block uses <<<{m.group(1)}>>> but {m.group(1)} is not set"
                )
            return str(env[m.group(1)])

        return _SUBST.sub(repl, obj)
    if isinstance(obj, list):
        return [_substitute(x, env) for x in obj]
    if isinstance(obj, dict):
        return {k: _substitute(v, env) for k, v in obj.items()}
    return obj


def _join(dest: str, name: str) -> str:
    return name if dest in ("", ".") else f"{dest}/{name}"


# --- services of a context -----------------------------------------------------------------


def object_store(ctx: Context) -> ObjectStore:
    """The context's content-addressed store (``CKX_HOME/objects``)."""
    return ObjectStore(ctx.home / "objects")


def known_hashes_file(ctx: Context) -> Path:
    """Where sha256s of artefacts without a published checksum are recorded."""
    return ctx.home / "state" / "known-hashes.json"


def configured_mirrors(ctx: Context) -> list[str]:
    """``CKX_MIRROR`` entries, then the ``mirrors`` list of ``CKX_HOME/config.yaml``."""
    return mirrors_from_env(ctx.environ, config=read_config(ctx.home).get("mirrors") or [])


def read_config(home: Path) -> dict[str, Any]:
    """``CKX_HOME/config.yaml`` as a dict (empty when absent); MetaError when malformed."""
    path = Path(home) / "config.yaml"
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MetaError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise MetaError(f"{path}: must hold a mapping (keys such as mirrors, pip_pins)")
    return data


def _progress(ctx: Context) -> Progress:
    return Progress(quiet=ctx.quiet or ctx.ui.mode == "none")


def fetch_item(
    ctx: Context, item: DownloadItem, store=None, *, mirrors: list[str] | None = None
) -> FetchResult:
    """Make one item present and verified in the store: mirrors, then URLs or the rclone remote."""
    store = store or object_store(ctx)
    mirrors = configured_mirrors(ctx) if mirrors is None else mirrors
    opts: dict[str, Any] = {"progress": _progress(ctx), "known_hashes": known_hashes_file(ctx)}
    if not item.rclone:
        return fetch(item.artifact, store, mirrors=mirrors, **opts)
    if mirrors:  # an air-gapped machine gets gated files from its mirror like any other
        try:
            return fetch(item.artifact, store, mirrors=mirrors, **opts)
        except DownloadError as exc:
            if isinstance(exc, ChecksumError):
                raise
            ctx.ui.info(f"  {item.artifact.label}: not in a mirror, trying rclone {item.rclone}")

    return fetch_rclone(
        item.rclone, item.artifact, store, environ=ctx.environ, known_hashes=known_hashes_file(ctx)
    )


# --- prepare ---------------------------------------------------------------------------------


def prepare_downloads(
    ctx: Context, meta: dict, env: dict, workdir: Path, *, inputs: dict
) -> dict[str, str]:
    """Fetch, verify and place every artefact of ``meta['download']`` in ``workdir``; return
    the env vars the items declare (absolute paths).

    With ``inputs['path']`` (``--path=DIR``) or ``env['CKX_PACKAGE_PATH']`` (``_path.#``) the
    existing copy there is validated and registered instead, and nothing is fetched or copied.
    Raises DownloadError/ChecksumError (naming URLs, hint about CKX_MIRROR and ``ckx
    prefetch``), ArchiveError, NotFoundError (a registered copy lacks a file) or MetaError.
    On failure ``workdir`` is left as it was; verified files may stay in the store.
    """
    where = str(meta.get("alias") or "package")
    items = parse_download_block(meta, env, where)
    workdir = Path(workdir)
    existing = inputs.get("path") or env.get(PATH_ENV)
    if existing not in (None, "", True):
        got = register_existing(ctx, items, Path(str(existing)).expanduser(), workdir, where=where)
        _check_model(ctx, meta, env, got, where, refuse=True)
        return got
    if not items:
        return {}
    store = object_store(ctx)
    mirrors = configured_mirrors(ctx)
    try:
        fetched = [  # all or nothing: checkouts are cloned into the staging folder afterwards
            None if item.git else fetch_item(ctx, item, store, mirrors=mirrors) for item in items
        ]
    except DownloadError as exc:
        if isinstance(exc, ChecksumError) or not _model_file_env(items):
            raise
        raise type(exc)(exc.message, hint=_model_at_hand_hint(exc.hint, meta)) from exc
    records = _place_all(ctx, items, fetched, store, workdir, where, mirrors)
    _write_manifest(workdir, {"version": 1, "package": where, "registered": None, "items": records})
    env_out = _env_for(items, workdir)
    for item, rec in zip(items, records, strict=True):
        if item.commit_env and rec.get("commit"):
            env_out[item.commit_env] = rec["commit"]
    _check_model(ctx, meta, env, env_out, where, refuse=False)
    return env_out


def _check_model(ctx, meta: dict, env: dict, placed: dict, where: str, *, refuse: bool) -> None:
    """A model file that contradicts its entry (format, opset, inputs/outputs, quantization):
    a ``--path`` registration is refused; a download, whose source the entry names, is only
    warned about (the tags of some published models are approximate)."""
    file = placed.get("CKX_ML_MODEL_FILE_WITH_PATH")
    if not file or not Path(file).is_file():
        return
    from ckx.artifacts.onnxinfo import model_problems

    problems = model_problems(
        file, list(meta.get("tags") or []), {**env, **(meta.get("env") or {})}
    )
    if not problems:
        return
    text = f"{file} does not fit {where}: " + "; ".join(problems)
    if not refuse:
        ctx.ui.warn(text)
        return
    from ckx.core.errors import UsageError

    raise UsageError("refusing to register it: " + text, hint=_register_as_hint(meta, env, file))


def _register_as_hint(meta: dict, env: dict, file: str) -> str:
    """How to register a model file that does not fit its entry: under tags that say what
    it is (a package with them, or one made for it), or as a program's ``--model_path``."""
    from ckx.artifacts.onnxinfo import read_onnx
    from ckx.core.errors import UsageError

    direct = "or give it to the program directly (ckx run program:od-bench --model_path=FILE)"
    try:
        info = read_onnx(file)
    except UsageError:
        return f"register it under a package whose tags fit it (ckx search package --tags=model), {direct}"
    tags = {str(t) for t in meta.get("tags") or []}
    name = str({**env, **(meta.get("env") or {})}.get("CKX_ML_MODEL_NAME") or "")
    task = [t for t in ("object-detection", "image-classification") if t in tags]
    what = ["model", *task, "onnx", *([name] if name else []), f"opset-{info.opset}"]
    what += ["quantized"] if info.quantized else []
    return (
        f"register it as what it is: ckx install package --tags={','.join(what)} --path={file} "
        f"(the model is identified from the file), {direct}"
    )


def _model_file_env(items: list[DownloadItem]) -> bool:
    return any("CKX_ML_MODEL_FILE_WITH_PATH" in item.env for item in items)


def _model_at_hand_hint(hint: str | None, meta: dict) -> str:
    """A model download failed: say how to use a copy of the file you have (registered, it
    is checked against the entry; a file of another variant is told how to register as what
    it is)."""
    alias = str(meta.get("alias") or "NAME")
    have = (
        f"with the model file at hand, register it: ckx install package:{alias} --path=FILE "
        "(checked against the entry), or give it to the program: --model_path=FILE"
    )
    return f"{hint}; or, {have}" if hint else have


def _place_all(
    ctx,
    items: list[DownloadItem],
    fetched: list[FetchResult | None],
    store,
    workdir: Path,
    where: str,
    mirrors: list[str],
) -> list[dict[str, Any]]:
    workdir.mkdir(parents=True, exist_ok=True)
    staging = workdir / f".ckx-staging-{os.urandom(4).hex()}"
    staging.mkdir()
    try:
        records = [
            _place_git(ctx, item, staging, mirrors)
            if res is None
            else _place_one(item, res, store, staging, where)
            for item, res in zip(items, fetched, strict=True)
        ]
        for item in items:
            for rel in item.expected_paths():
                if not (staging / rel).exists():
                    raise ArchiveError(
                        f"{where}: {item.artifact.label} did not provide {rel}",
                        hint="fix 'expect'/'dest'/'strip_components' in the package meta",
                    )
        _move_children(staging, workdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return records


def _place_one(
    item: DownloadItem, res: FetchResult, store, staging: Path, where: str
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "filename": item.artifact.filename,
        "sha256": res.sha256,
        "size": res.size,
        "source": res.source,
        "from_mirror": res.from_mirror,
        "dest": item.dest,
    }
    if not item.extract:
        if (staging / item.placed_file).exists():
            raise ConflictError(
                f"{where}: two download items provide {item.placed_file}",
                hint="give them different 'dest' or 'filename'",
            )
        store.link_into(res.sha256, staging / item.dest, item.artifact.filename)
        record["paths"] = [item.placed_file]
        return record

    tmp = staging / f".x-{os.urandom(4).hex()}"
    names = extract(res.path, tmp, strip_components=item.strip_components, kind=_kind_of(item))
    _move_children(tmp, staging / item.dest, what=f"{where}: {item.artifact.label}")
    tmp.rmdir()
    record["paths"] = [_join(item.dest, n) for n in names]
    return record


def _place_git(ctx, item: DownloadItem, staging: Path, mirrors: list[str]) -> dict[str, Any]:
    import time

    from ckx.artifacts.gitsrc import clone

    target = staging / item.dest
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    source, commit = clone(
        str(item.git),
        target,
        checkout=item.checkout,
        submodules=item.submodules,
        mirrors=mirrors,
        info=ctx.ui.info,
    )
    ctx.ui.info(f"  checked out {commit[:12]} from {source} ({time.time() - start:.1f} s)")
    return {
        "filename": item.artifact.filename,
        "git": item.git,
        "checkout": item.checkout,
        "commit": commit,
        "source": source,
        "from_mirror": source != item.git,
        "dest": item.dest,
        "paths": [item.dest],
    }


def _kind_of(item: DownloadItem) -> str | None:
    try:  # from the file name; an object in the store has none, so sniff the bytes otherwise
        return detect_kind(item.artifact.filename)
    except ArchiveError:
        return None


def _move_children(src: Path, dest: Path, what: str = "") -> None:
    """Move every entry of ``src`` into ``dest``, merging directories; never overwrite a file."""
    dest.mkdir(parents=True, exist_ok=True)
    for child in sorted(src.iterdir()):
        target = dest / child.name
        if not target.exists() and not target.is_symlink():
            os.replace(child, target)
        elif target.is_dir() and child.is_dir() and not child.is_symlink():
            _move_children(child, target, what)
            child.rmdir()
        else:
            raise ConflictError(
                f"{what or 'placing artefacts'}: {target} already exists",
                hint="two download items provide the same path; give them different 'dest'",
            )


def _env_for(items: Iterable[DownloadItem], root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        for key, rel in item.env.items():
            out[key] = str(root if rel == "." else root / rel)
    return out


# --- existing copies (--path) --------------------------------------------------------------------


def register_existing(
    ctx: Context,
    items: list[DownloadItem],
    path: Path,
    workdir: Path | None = None,
    *,
    where: str = "package",
) -> dict[str, str]:
    """Validate an existing copy at ``path`` (a folder laid out like the package folder, or,
    for a one-file package, the file itself) and return the env pointing into it.

    Every expected file must exist (NotFoundError naming it); a non-extracted file's size and
    checksum (published, or recorded in the known-hashes file) are checked (ChecksumError).
    Nothing is copied; ``workdir`` only receives the manifest.
    """
    path = path.resolve()
    if not path.exists():
        raise NotFoundError(f"{where}: --path {path} does not exist")
    if path.is_file():
        return _register_file(ctx, items, path, workdir, where)
    for item in items:
        for rel in item.expected_paths():
            if not (path / rel).exists():
                raise NotFoundError(
                    f"{where}: {path} is not a copy of this package: {rel} is missing",
                    hint=f"point --path at the folder that holds {rel}" + _layout_hint(items),
                )
        if not item.extract:
            verify_file(ctx, item.artifact, path / item.placed_file, where)
    if workdir is not None:
        _write_manifest(
            workdir,
            {
                "version": 1,
                "package": where,
                "registered": str(path),
                "items": [
                    {"filename": i.artifact.filename, "paths": i.expected_paths()} for i in items
                ],
            },
        )
    return _env_for(items, path)


def _register_file(
    ctx: Context, items: list[DownloadItem], path: Path, workdir: Path | None, where: str
) -> dict[str, str]:
    if len(items) != 1 or items[0].extract:
        raise NotFoundError(
            f"{where}: --path {path} is a file, but this package is a folder" + _layout_hint(items),
            hint="point --path at the folder",
        )
    item = items[0]
    verify_file(ctx, item.artifact, path, where)
    if workdir is not None:
        _write_manifest(
            workdir,
            {
                "version": 1,
                "package": where,
                "registered": str(path),
                "items": [{"filename": item.artifact.filename, "paths": [str(path)]}],
            },
        )
    out = {}
    for key, rel in item.env.items():  # the env entry naming the file points at the given file
        out[key] = (
            str(path)
            if rel == item.placed_file
            else str(path.parent if rel == "." else path.parent / rel)
        )
    return out


def _layout_hint(items: list[DownloadItem]) -> str:
    wanted = sorted({p for i in items for p in i.expected_paths()})
    return f" (expected: {', '.join(wanted[:6])}{', …' if len(wanted) > 6 else ''})"


def verify_file(ctx: Context, artifact: Artifact, path: Path, where: str = "package") -> None:
    """Check ``path`` against the artefact's size and checksums (or its recorded sha256)."""
    size = path.stat().st_size
    if artifact.size is not None and size != artifact.size:
        raise ChecksumError(
            f"{where}: {path} has {size} bytes, expected {artifact.size} for {artifact.filename}",
            hint="the file is incomplete or a different version; fetch it again",
        )
    sha256 = artifact.sha256 or KnownHashes(known_hashes_file(ctx)).lookup(artifact)
    algos = [a for a, v in (("sha256", sha256), ("md5", artifact.md5)) if v]
    if not algos:
        return
    digests = hash_file(path, algos)
    for algo in algos:
        want = ((sha256 if algo == "sha256" else artifact.md5) or "").lower()
        if digests[algo] != want:
            raise ChecksumError(
                f"{where}: {path}: {algo} {digests[algo]} does not match the expected {want}",
                hint=f"this is not the published {artifact.filename}",
            )


# --- manifest and validation ---------------------------------------------------------------------


def _write_manifest(workdir: Path, data: dict[str, Any]) -> None:
    from ckx.core import atomic

    atomic.write_text(workdir / MANIFEST, json.dumps(data, indent=1))


def check_prepared(workdir: Path) -> list[str]:
    """Problems of a prepared folder (empty: still complete): every recorded path must exist."""
    workdir = Path(workdir)
    try:
        data = json.loads((workdir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []  # nothing was downloaded there
    except (OSError, ValueError) as exc:
        return [f"{workdir / MANIFEST}: unreadable ({exc})"]
    root = Path(data["registered"]) if data.get("registered") else workdir
    problems = []
    for item in data.get("items") or []:
        for rel in item.get("paths") or []:
            if not (root / rel).exists():
                problems.append(f"{root / rel} ({item.get('filename')}) is gone")
    return problems


# --- prefetch ------------------------------------------------------------------------------------


def prefetch_items(
    ctx: Context, items: Iterable[DownloadItem], dest: Path | str
) -> list[FetchResult]:
    """Fetch every item and place it in the mirror folder ``dest`` (``<filename>`` and
    ``sha256/<hash>``), hardlinked or copied, never symlinked."""
    store = object_store(ctx)
    mirrors = configured_mirrors(ctx)
    dest = Path(dest)
    out = []
    for item in items:
        if item.git:
            from ckx.artifacts.gitsrc import prefetch_git

            got = prefetch_git(item.git, dest, mirrors=mirrors)
            ctx.ui.info(f"  {item.git} -> {got} (a --mirror clone)")
            continue
        res = fetch_item(ctx, item, store, mirrors=mirrors)
        store.link_into(res.sha256, dest, item.artifact.filename, allow_symlink=False)
        store.link_into(res.sha256, dest / "sha256", res.sha256, allow_symlink=False)
        ctx.ui.info(f"  {item.artifact.filename} -> {dest} ({res.size} bytes, from {res.source})")
        out.append(res)
    return out


def prefetch_plan(ctx: Context, plan, dest: Path | str) -> list[FetchResult]:
    """Prefetch the artefacts of every node of an engine plan (``plan.root.walk()``)."""
    items: list[DownloadItem] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for node in plan.root.walk():
        env = {
            **(node.meta.get("default_env") or {}),
            **(node.meta.get("env") or {}),
            **node.static_env,
        }
        for item in parse_download_block(node.meta, env, node.entry.alias):
            key = (item.artifact.filename, tuple(item.artifact.urls))
            if key not in seen:
                seen.add(key)
                items.append(item)
    return prefetch_items(ctx, items, dest)


# --- what a plan would fetch (``--plan``) ----------------------------------------------------------


def describe_item(ctx, item: DownloadItem) -> dict[str, Any]:
    """What fetching ``item`` would do, without touching the network: whether the store
    already holds it, which mirror folders have it, and the sources in the order tried."""
    from ckx.artifacts.download import KnownHashes

    mirrors = configured_mirrors(ctx)
    a = item.artifact
    if item.git:
        from ckx.artifacts.gitsrc import sources

        return {
            "what": f"git clone {item.git}" + (f" at {item.checkout}" if item.checkout else ""),
            "have": None,
            "sources": sources(item.git, mirrors),
        }
    sha = a.sha256 or KnownHashes(known_hashes_file(ctx)).lookup(a)
    have = None
    if sha and object_store(ctx).has(sha):
        have = f"in the object store ({object_store(ctx).path(sha)})"
    srcs = []
    for m in mirrors:
        if m.lower().startswith(("http://", "https://")):
            srcs.append(f"{m.rstrip('/')}/{a.filename} (mirror)")
        elif (Path(m) / a.filename).is_file() or (sha and (Path(m) / "sha256" / sha).is_file()):
            srcs.append(f"{Path(m) / a.filename} (mirror folder: has it)")
    srcs += list(a.urls) + ([f"rclone {item.rclone}"] if item.rclone else [])
    check = f"sha256 {a.sha256}" if a.sha256 else (f"md5 {a.md5}" if a.md5 else None)
    if not check:
        check = (
            f"recorded sha256 {sha}" if sha else "no published checksum: recorded at first download"
        )
    size = f"{a.size} bytes" if a.size is not None else "size unknown"
    return {"what": f"fetch {a.filename} ({size}; {check})", "have": have, "sources": srcs}
