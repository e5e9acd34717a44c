"""Image pre-processing exactly as the reference ``python/dataset.py`` (reference §2.3), and a
parallel, resumable pre-processing command.

``python -m odbench.preprocess --dataset-path D --out DIR --profile P [--count N] [--workers N]``
writes one ``<DIR>/val2017/<file>.jpg.npy`` per selected image (QSL order: JSON order of the
annotation file's "images", missing files skipped, ``--count`` limits) plus a manifest
``<DIR>/odbench-preprocessed.json``. ``python -m odbench --preprocessed_dir DIR
--use_preprocessed_dataset`` consumes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .coco_index import read_coco_index
from .errors import NotFoundError, OdBenchError, UsageError, report

MANIFEST_NAME = "odbench-preprocessed.json"


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover
        from .errors import missing_module

        raise missing_module("cv2", exc) from exc
    return cv2


def maybe_resize(img: Any, dims: Sequence[int] | None) -> Any:
    """BGR uint8 HWC -> RGB float32 HWC, stretched to ``dims`` = (H, W, C) with INTER_LINEAR."""
    import numpy as np

    cv2 = _cv2()
    img = np.array(img, dtype=np.float32)
    if len(img.shape) < 3 or img.shape[2] != 3:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if dims is not None:
        im_height, im_width, _ = dims
        img = cv2.resize(img, (im_width, im_height), interpolation=cv2.INTER_LINEAR)
    return img


def pre_process_coco_mobilenet(
    img: Any, dims: Sequence[int] | None = None, need_transpose: bool = False
) -> Any:
    """ssd-mobilenet TF/ONNX: uint8 0..255 (float->uint8 truncates), no normalisation."""
    import numpy as np

    img = maybe_resize(img, dims)
    img = np.asarray(img, dtype=np.uint8)
    if need_transpose:
        img = img.transpose([2, 0, 1])
    return img


def pre_process_coco_pt_mobilenet(
    img: Any, dims: Sequence[int] | None = None, need_transpose: bool = False
) -> Any:
    """ssd-mobilenet PyTorch: (x - 127.5) / 127.5, float32."""
    img = maybe_resize(img, dims)
    img -= 127.5
    img /= 127.5
    if need_transpose:
        img = img.transpose([2, 0, 1])
    return img


def pre_process_coco_resnet34(
    img: Any, dims: Sequence[int] | None = None, need_transpose: bool = False
) -> Any:
    """ssd-resnet34: (x/255 - ImageNet mean) / ImageNet std, float32."""
    import numpy as np

    img = maybe_resize(img, dims)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    img = img / 255.0 - mean
    img = img / std
    if need_transpose:
        img = img.transpose([2, 0, 1])
    return img


PREPROCESSORS: dict[str, Callable[..., Any]] = {
    "coco_mobilenet": pre_process_coco_mobilenet,
    "coco_pt_mobilenet": pre_process_coco_pt_mobilenet,
    "coco_resnet34": pre_process_coco_resnet34,
}


@dataclass(frozen=True)
class PreprocessSpec:
    """Everything a worker needs to turn one JPEG into the network input."""

    preprocessor: str
    image_size: tuple[int, int, int]
    image_format: str  # "NHWC" or "NCHW"

    def apply(self, path: str) -> Any:
        """Read ``path`` with cv2 (BGR) and pre-process it."""
        img = _cv2().imread(path)
        if img is None:
            raise NotFoundError(f"cannot read image '{path}' (missing or not an image)")
        return PREPROCESSORS[self.preprocessor](
            img, dims=self.image_size, need_transpose=self.image_format == "NCHW"
        )


def save_npy_atomic(dst: str, array: Any) -> None:
    """``np.save`` to a temporary name in the same folder, then rename (never half a file)."""
    import numpy as np

    tmp = f"{dst}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            np.save(f, array)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def is_complete_npy(path: str) -> bool:
    """True when ``path`` is a readable .npy whose data is all there (for resuming)."""
    import numpy as np

    try:
        arr = np.load(path, mmap_mode="r")
        return arr.size > 0
    except (OSError, ValueError):
        return False


# ---- parallel pre-processing ------------------------------------------------------------

_WORKER_SPEC: PreprocessSpec | None = None


def _init_worker(spec: PreprocessSpec) -> None:
    global _WORKER_SPEC
    _WORKER_SPEC = spec
    # one OpenCV thread per worker process: the pool already uses every core
    _cv2().setNumThreads(1)


def _work(job: tuple[str, str]) -> str:
    src, dst = job
    assert _WORKER_SPEC is not None
    save_npy_atomic(dst, _WORKER_SPEC.apply(src))
    return dst


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty() and total > 0
        self.start = time.time()

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        rate = self.done / max(time.time() - self.start, 1e-9)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total} {rate:.1f} img/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _start_method() -> str:
    """fork when this process has a single OS thread (fast: no re-import), else spawn.

    A process that already runs threads (onnxruntime's or OpenCV's pools, a thread pool) can
    deadlock its forked children on a lock held at fork time; this was seen with cv2.
    """
    import multiprocessing as mp

    try:
        single = len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc (macOS, Windows)
        single = False
    return "fork" if single and "fork" in mp.get_all_start_methods() else "spawn"


def run_jobs(
    jobs: Sequence[tuple[str, str]], spec: PreprocessSpec, workers: int, label: str = "preprocess"
) -> int:
    """Pre-process ``(src, dst)`` pairs with ``workers`` processes; returns how many were written."""
    progress = _Progress(len(jobs), label)
    # a worker costs up to ~0.5 s to start (spawn re-imports numpy, cv2): not worth it for a
    # few images
    workers = min(workers, max(1, len(jobs) // 32))
    try:
        if workers <= 1:
            _init_worker(spec)
            for job in jobs:
                _work(job)
                progress.step()
        else:
            import multiprocessing as mp

            ctx = mp.get_context(_start_method())
            chunk = max(1, min(16, len(jobs) // (workers * 4)))
            with ctx.Pool(workers, initializer=_init_worker, initargs=(spec,)) as pool:
                for _ in pool.imap_unordered(_work, jobs, chunksize=chunk):
                    progress.step()
    finally:
        progress.close()
    return len(jobs)


def cache_path(cache_root: str, image_name: str) -> str:
    """``<cache_root>/val2017/<file>.jpg.npy`` for ``image_name`` = ``val2017/<file>.jpg``."""
    return os.path.join(cache_root, image_name + ".npy")


def preprocess_to_dir(
    image_names: Iterable[str],
    data_path: str,
    out: str,
    spec: PreprocessSpec,
    workers: int | None = None,
    label: str = "preprocess",
) -> tuple[int, int]:
    """Write the missing or incomplete ``.npy`` files of ``image_names`` under ``out``.

    Returns ``(written, skipped)``. Complete files are kept, so an interrupted run resumes.
    """
    jobs: list[tuple[str, str]] = []
    skipped = 0
    made_dirs: set[str] = set()
    for name in image_names:
        dst = cache_path(out, name)
        folder = os.path.dirname(dst)
        if folder not in made_dirs:
            os.makedirs(folder, exist_ok=True)
            made_dirs.add(folder)
        if os.path.exists(dst) and is_complete_npy(dst):
            skipped += 1
            continue
        jobs.append((os.path.join(data_path, name), dst))
    n_workers = workers or os.cpu_count() or 1
    written = run_jobs(jobs, spec, n_workers, label=label)
    return written, skipped


def write_manifest(out: str, info: dict[str, Any]) -> None:
    """Atomically write ``<out>/odbench-preprocessed.json`` describing the cache."""
    path = os.path.join(out, MANIFEST_NAME)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def read_manifest(out: str) -> dict[str, Any] | None:
    """The manifest of a pre-processed folder, or ``None`` when there is none."""
    path = os.path.join(out, MANIFEST_NAME)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---- command line -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m odbench.preprocess`` argument parser."""
    from .profiles import SUPPORTED_PROFILES

    p = argparse.ArgumentParser(
        prog="python -m odbench.preprocess",
        description="Pre-process COCO images for od-bench into one .npy per image.",
    )
    p.add_argument("--dataset-path", required=True, help="COCO root (annotations/, val2017/)")
    p.add_argument(
        "--dataset-list", help="annotation file (default annotations/instances_val2017.json)"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--profile", required=True, choices=[k for k in SUPPORTED_PROFILES if k != "defaults"]
    )
    p.add_argument("--dataset", help="dataset key (default: from the profile)")
    p.add_argument("--data-format", choices=["NCHW", "NHWC"], help="default: from the profile")
    p.add_argument("--count", type=int, help="only the first N images")
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: all cores)"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m odbench.preprocess``."""
    args = build_parser().parse_args(argv)
    try:
        info = preprocess_command(args)
    except OdBenchError as exc:
        return report("odbench.preprocess", exc)
    print(
        f"preprocessed {info['count']} images into {info['out']} "
        f"({info['written']} written, {info['skipped']} already there, {info['seconds']:.1f} s)"
    )
    return 0


def preprocess_command(args: argparse.Namespace) -> dict[str, Any]:
    """Run the pre-processing command for parsed ``args``; returns the manifest written."""
    from .profiles import SUPPORTED_DATASETS, profile_defaults

    prof = profile_defaults(args.profile)
    dataset = args.dataset or prof["dataset"]
    dspec = SUPPORTED_DATASETS[dataset]
    if dspec.kind != "coco":
        raise UsageError(
            f"profile '{args.profile}' uses the {dspec.kind} dataset, which is not pre-processed here",
            hint="Cognata pickles (val_<i>.pkl) are already pre-processed; pass their folder as --dataset-path",
        )
    fmt = args.data_format or prof.get("data-format") or "NCHW"
    index = read_coco_index(
        args.dataset_path, args.dataset_list, count=args.count, use_label_map=dspec.use_label_map
    )
    spec = PreprocessSpec(dspec.preprocessor, tuple(dspec.image_size), fmt)  # type: ignore[arg-type]
    t0 = time.time()
    written, skipped = preprocess_to_dir(
        index.image_names, args.dataset_path, args.out, spec, workers=args.workers
    )
    info = {
        "dataset": dataset,
        "profile": args.profile,
        "data_format": fmt,
        "image_size": list(dspec.image_size),
        "annotation_file": os.path.abspath(index.annotation_file),
        "count": len(index.image_names),
        "out": os.path.abspath(args.out),
        "written": written,
        "skipped": skipped,
        "seconds": time.time() - t0,
    }
    write_manifest(args.out, info)
    return info


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
