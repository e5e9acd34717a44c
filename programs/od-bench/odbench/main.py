"""``python -m odbench``: the MLPerf object-detection benchmark on mlcommons-loadgen.

The flags are those of the reference ``vision/classification_and_detection/python/main.py``
(HEAD) plus the automotive ``2d-object-detection/main.py`` ones (``--config``,
``--checkpoint``, ``--cognata-root-path``, ``--dtype``); see docs/od-bench.md. One LoadGen
test per process: LoadGen loads its embedded mlperf.conf only on the first ``FromConfig``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import NotFoundError, OdBenchError, RunError, UsageError, missing_module, report
from .profiles import BACKEND_ALIASES, SUPPORTED_DATASETS, SUPPORTED_PROFILES, apply_profile

log = logging.getLogger("odbench")

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
NANO_SEC = 1e9
MILLI_SEC = 1000
WARMUP_RUNS = 5


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m odbench`` argument parser (reference flags; defaults None where a
    profile may fill them). The flags are added in the reference's order (``results.json``
    records them in that order)."""
    p = argparse.ArgumentParser(
        prog="python -m odbench", description="MLPerf object-detection benchmark (od-bench)."
    )
    _add_what_runs(p)
    _add_loadgen_options(p)
    _add_odbench_options(p)
    return p


def _add_what_runs(p: argparse.ArgumentParser) -> None:
    """The reference flags that say what runs: data set, profile, scenario, model, backend."""
    p.add_argument("--dataset", choices=sorted(SUPPORTED_DATASETS), help="dataset")
    p.add_argument(
        "--dataset-path",
        required=True,
        help="COCO root (annotations/, val2017/) or folder of Cognata val_<i>.pkl",
    )
    p.add_argument(
        "--dataset-list", help="annotation file (default annotations/instances_val2017.json)"
    )
    p.add_argument("--data-format", choices=["NCHW", "NHWC"], help="data format")
    p.add_argument(
        "--profile",
        choices=[k for k in SUPPORTED_PROFILES if k != "defaults"],
        help="standard profile",
    )
    p.add_argument(
        "--scenario",
        default="SingleStream",
        help="mlperf benchmark scenario, one of " + str(list(SCENARIOS)),
    )
    p.add_argument("--max-batchsize", type=int, help="max batch size in a single inference")
    p.add_argument("--model", "--checkpoint", dest="model", required=True, help="model file")
    p.add_argument("--output", default="output", help="test results")
    p.add_argument("--inputs", help="model inputs (comma separated)")
    p.add_argument("--outputs", help="model outputs (comma separated)")
    p.add_argument("--backend", choices=sorted(BACKEND_ALIASES), help="runtime to use")
    p.add_argument("--model-name", help="name of the mlperf model, e.g. ssd-mobilenet")
    p.add_argument("--threads", type=int, help="worker threads (default: all cores)")


def _add_loadgen_options(p: argparse.ArgumentParser) -> None:
    """The reference flags that set up the LoadGen test."""
    p.add_argument("--qps", type=float, help="target qps (server_target_qps, offline_expected_qps)")
    p.add_argument("--cache", type=int, help="use cache (logged only, as in the reference)")
    p.add_argument("--accuracy", action="store_true", help="enable accuracy pass")
    p.add_argument(
        "--find-peak-performance", action="store_true", help="enable finding peak performance pass"
    )
    p.add_argument("--debug", action="store_true", help="LoadGen trace logging")
    p.add_argument(
        "--user_conf",
        help="user config for LoadGen (default: generated per model into <output>/user.conf)",
    )
    p.add_argument("--audit_conf", help="audit config for LoadGen compliance tests (default: none)")
    p.add_argument("--time", type=int, help="time to scan in seconds")
    p.add_argument("--count", type=int, help="dataset items to use")
    p.add_argument("--performance-sample-count", type=int, help="performance sample count")
    p.add_argument("--max-latency", type=float, help="mlperf max latency in seconds")
    p.add_argument(
        "--samples-per-query", default=8, type=int, help="mlperf multi-stream samples per query"
    )


def _add_odbench_options(p: argparse.ArgumentParser) -> None:
    """The device, pre-processed data, the automotive flags, and od-bench's own."""
    p.add_argument("--device", help="cpu forces CPU execution; cuda/gpu allows CUDA")
    p.add_argument(
        "--cache_dir",
        help="root of the pre-processed cache (<cache_dir>/preprocessed/<dataset>/<format>)",
    )
    p.add_argument("--preprocessed_dir", help="folder written by python -m odbench.preprocess")
    p.add_argument(
        "--use_preprocessed_dataset",
        action="store_true",
        help="the pre-processed cache must already be complete",
    )
    p.add_argument("--config", help="Cognata model config: a built-in name or a .json file")
    p.add_argument("--cognata-root-path", help="accepted for compatibility; unused")
    p.add_argument(
        "--dtype",
        default="fp32",
        choices=["fp32", "fp16", "bf16"],
        help="accepted for compatibility; unused (as in the reference)",
    )
    p.add_argument("--warmup", type=int, default=WARMUP_RUNS, help="warm-up predictions")
    p.add_argument("--workers", type=int, help="pre-processing workers (default: all cores)")
    p.add_argument(
        "--no-summary",
        action="store_true",
        help="do not print the closing summary (it is in odbench_summary.json); for a caller "
        "that prints its own",
    )


@dataclass
class RunConfig:
    """Resolved options of one run."""

    args: argparse.Namespace
    dataset: Any  # profiles.DatasetSpec
    backend_name: str
    output_dir: str
    inputs: list[str] | None
    outputs: list[str] | None


def resolve_args(argv: Sequence[str] | None = None) -> RunConfig:
    """Parse ``argv`` and apply the profile (the CLI wins)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.scenario not in SCENARIOS:
        parser.error("valid scanarios:" + str(list(SCENARIOS)))
    apply_profile(args, args.profile)
    if args.threads is None:
        args.threads = os.cpu_count() or 1
    if args.cache is None:
        args.cache = 0
    if args.threads < 1 or (args.max_batchsize is not None and args.max_batchsize < 1):
        parser.error("--threads and --max-batchsize must be at least 1")
    if args.device and args.device.lower() == "cpu":
        os.environ["USE_GPU"] = "no"
    dataset = SUPPORTED_DATASETS[args.dataset]
    inputs = args.inputs.split(",") if args.inputs else None
    outputs = args.outputs.split(",") if args.outputs else None
    return RunConfig(
        args=args,
        dataset=dataset,
        backend_name=BACKEND_ALIASES[args.backend],
        output_dir=os.path.abspath(args.output),
        inputs=inputs,
        outputs=outputs,
    )


# ---- building blocks ----------------------------------------------------------------------


def _cache_folder(cfg: RunConfig, image_format: str) -> str | None:
    a = cfg.args
    if a.preprocessed_dir:
        return os.path.abspath(a.preprocessed_dir)
    if a.cache_dir:
        return os.path.join(os.path.abspath(a.cache_dir), "preprocessed", a.dataset, image_format)
    if a.use_preprocessed_dataset:
        raise UsageError("--use_preprocessed_dataset needs --preprocessed_dir or --cache_dir")
    return None


def _check_manifest(folder: str, dataset: str, image_format: str) -> None:
    from .preprocess import read_manifest

    info = read_manifest(folder)
    if info and (info.get("dataset") != dataset or info.get("data_format") != image_format):
        raise UsageError(
            f"'{folder}' holds {info.get('dataset')}/{info.get('data_format')} images, "
            f"this run needs {dataset}/{image_format}",
            hint="pre-process again with the run's --profile, or point at another folder",
        )


def build_dataset(cfg: RunConfig, image_format: str) -> Any:
    """The COCO or Cognata dataset of the run."""
    a = cfg.args
    if cfg.dataset.kind == "cognata":
        from .dataset_cognata import CognataDataset

        return CognataDataset(a.dataset_path, count=a.count)
    from .dataset_coco import CocoDataset
    from .preprocess import PreprocessSpec

    spec = PreprocessSpec(cfg.dataset.preprocessor, tuple(cfg.dataset.image_size), image_format)
    folder = _cache_folder(cfg, image_format)
    if folder:
        _check_manifest(folder, a.dataset, image_format)
    return CocoDataset(
        a.dataset_path,
        spec,
        image_list=a.dataset_list,
        name=a.dataset,
        count=a.count,
        use_label_map=cfg.dataset.use_label_map,
        preprocessed_dir=folder,
        require_cache=a.use_preprocessed_dataset,
        workers=a.workers,
    )


def build_postprocessor(cfg: RunConfig) -> Any:
    """A post-processor for the dataset (with the Cognata box decoder when needed)."""
    from .postprocess import make_postprocessor

    decoder = None
    if cfg.dataset.kind == "cognata":
        from .dataset_cognata import SSDDecoder, load_config

        decoder = SSDDecoder(load_config(cfg.args.config))
    return make_postprocessor(
        cfg.dataset.postprocessor,
        decoder=decoder,
        score_threshold=cfg.dataset.score_threshold,
        use_inv_map=cfg.dataset.use_label_map,
    )


def effective_batchsize(requested: int, fixed_batch: int | None) -> int:
    """``max_batchsize`` limited by a model whose batch dimension is fixed."""
    if fixed_batch is not None and fixed_batch < requested:
        log.info(
            "the model's batch dimension is fixed at %d: max_batchsize %d -> %d",
            fixed_batch,
            requested,
            fixed_batch,
        )
        return fixed_batch
    return requested


def prepare_user_conf(cfg: RunConfig) -> str:
    """The user.conf to use: the given one (must exist) or one generated into the output dir."""
    a = cfg.args
    if a.user_conf:
        path = os.path.abspath(a.user_conf)
        if not os.path.isfile(path):
            raise NotFoundError(f"{path} not found", hint="check --user_conf")
        return path
    from .userconf import generate_user_conf, write_user_conf

    return write_user_conf(
        os.path.join(cfg.output_dir, "user.conf"), generate_user_conf(a.model_name, a.scenario)
    )


def warmup(model: Any, ds: Any, runs: int) -> None:
    """Run the model ``runs`` times on sample 0 (reference: 5)."""
    if runs <= 0:
        return
    ds.load_query_samples([0])
    for _ in range(runs):
        img, _ = ds.get_samples([0])
        model.predict({model.inputs[0]: img})
    ds.unload_query_samples(None)


def make_settings(lg: Any, cfg: RunConfig, user_conf: str, count: int) -> Any:
    """TestSettings: one FromConfig(user.conf) then the command-line overrides (§1.4 step 13)."""
    a = cfg.args
    settings = lg.TestSettings()
    settings.FromConfig(user_conf, a.model_name, a.scenario)
    settings.scenario = getattr(lg.TestScenario, a.scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    if a.accuracy:
        settings.mode = lg.TestMode.AccuracyOnly
    if a.find_peak_performance:
        settings.mode = lg.TestMode.FindPeakPerformance
    if a.time:
        settings.min_duration_ms = a.time * MILLI_SEC
        settings.max_duration_ms = a.time * MILLI_SEC
    if a.qps:
        settings.server_target_qps = float(a.qps)
        settings.offline_expected_qps = float(a.qps)
    if a.count:
        settings.min_query_count = count
        settings.max_query_count = count
    if a.samples_per_query:
        settings.multi_stream_samples_per_query = a.samples_per_query
    if a.max_latency:
        settings.server_target_latency_ns = int(a.max_latency * NANO_SEC)
        settings.multi_stream_expected_latency_ns = int(a.max_latency * NANO_SEC)
    return settings


def audit_config_path(cfg: RunConfig, scratch: str) -> str:
    """The audit config LoadGen may read: the given file, or a path that never exists (so a
    stray ``audit.config`` in the working directory never turns a run into a compliance test)."""
    if cfg.args.audit_conf:
        path = os.path.abspath(cfg.args.audit_conf)
        if not os.path.isfile(path):
            raise NotFoundError(f"audit config '{path}' not found", hint="check --audit_conf")
        return path
    return os.path.join(scratch, "no-audit.config")


def add_results(
    final_results: dict[str, Any],
    name: str,
    result_dict: dict[str, Any],
    result_list: list[float],
    took: float,
    show_accuracy: bool = False,
) -> None:
    """The reference ``add_results``: timing statistics (and accuracy) under ``name``."""
    import numpy as np

    percentiles = [50.0, 80.0, 90.0, 95.0, 99.0, 99.9]
    if result_list:
        buckets = np.percentile(result_list, percentiles).tolist()
        mean = float(np.mean(result_list))
    else:
        buckets, mean = [0.0] * len(percentiles), 0.0
    buckets_str = ",".join(f"{p}:{b:.4f}" for p, b in zip(percentiles, buckets, strict=True))
    if result_dict["total"] == 0:
        result_dict["total"] = len(result_list)
    result: dict[str, Any] = {
        "took": took,
        "mean": mean,
        "percentiles": {str(k): v for k, v in zip(percentiles, buckets, strict=True)},
        "qps": len(result_list) / took if took > 0 else 0.0,
        "count": len(result_list),
        "good_items": result_dict["good"],
        "total_items": result_dict["total"],
    }
    acc_str = ""
    if show_accuracy:
        result["accuracy"] = 100.0 * result_dict["good"] / max(result_dict["total"], 1)
        acc_str = f", acc={result['accuracy']:.3f}%"
        if "mAP" in result_dict:
            result["mAP"] = 100.0 * result_dict["mAP"]
            acc_str += f", mAP={result['mAP']:.3f}%"
    final_results[name] = result
    print(
        f"{name} qps={result['qps']:.2f}, mean={result['mean']:.4f}, time={took:.3f}{acc_str}, "
        f"queries={len(result_list)}, tiles={buckets_str}"
    )


def compute_accuracy(cfg: RunConfig, ds: Any) -> tuple[float, str]:
    """mAP (fraction) and the text the reference accuracy tool prints, from the run's log."""
    log_file = os.path.join(cfg.output_dir, "mlperf_log_accuracy.json")
    if cfg.dataset.kind == "cognata":
        from .accuracy_cognata import evaluate_cognata

        res = evaluate_cognata(log_file, cfg.args.dataset_path)
        return res.mAP, res.text
    from .accuracy_coco import evaluate_coco

    acc = evaluate_coco(
        log_file,
        ds.annotation_file,
        os.path.join(cfg.args.dataset_path, "val2017"),
        use_inv_map=cfg.dataset.use_inv_map,
        remove_48_empty_images=cfg.dataset.use_label_map,
        image_order=ds.image_ids,
    )
    return acc.mAP, acc.text


def write_json_atomic(path: str, data: Any, **kw: Any) -> None:
    """``json.dump`` through a temporary file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, **kw)
    os.replace(tmp, path)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` through a temporary file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- the run --------------------------------------------------------------------------


def used_device(backend: Any, asked: str | None) -> str:
    """The device the loaded model really runs on (``cpu``/``cuda``); asking for a GPU and
    getting the CPU is an error, not a quiet CPU benchmark."""
    providers = getattr(backend, "providers", None) or []
    where = str(getattr(backend, "device", "") or (providers[0] if providers else "cpu"))
    device = "cuda" if where.lower().startswith("cuda") else "cpu"
    if asked and asked.lower() in ("cuda", "gpu") and device != "cuda":
        raise RunError(
            f"--device={asked} was asked for, but the model runs on the CPU "
            f"({backend.name()}: {', '.join(providers) or where})",
            hint="install the GPU build of the runtime (onnxruntime-gpu, a CUDA torch) and check "
            "USE_GPU, or run with --device=cpu",
        )
    return device


@dataclass
class Loaded:
    """What one run measures: the backend and its model, the data set, the post-processor."""

    backend: Any
    model: Any
    ds: Any
    post_proc: Any
    device: str
    max_batchsize: int


def _loadgen() -> Any:
    try:
        import mlperf_loadgen as lg
    except ImportError as exc:  # pragma: no cover
        raise missing_module("mlperf_loadgen", exc) from exc
    return lg


def load(cfg: RunConfig) -> Loaded:
    """Build the data set (pre-processing it when needed), load the model, check the device."""
    from .backends import get_backend

    a = cfg.args
    backend = get_backend(a.backend)
    image_format = a.data_format or backend.image_format()
    ds = build_dataset(cfg, image_format)
    if getattr(a, "config", None) and hasattr(backend, "model_config"):
        from .ssd_resnet50 import MODEL_CONFIGS

        if a.config in MODEL_CONFIGS:  # a built-in name; a .json --config only drives the decoder
            backend.model_config = a.config
    model = backend.load(a.model, inputs=cfg.inputs, outputs=cfg.outputs)
    device = used_device(backend, a.device)
    max_batchsize = effective_batchsize(a.max_batchsize, backend.fixed_batch)
    return Loaded(backend, model, ds, build_postprocessor(cfg), device, max_batchsize)


def make_runner(cfg: RunConfig, run: Loaded) -> Any:
    """The reference runner: synchronous for SingleStream, a worker queue otherwise."""
    from .sut import QueueRunner, RunnerBase

    a = cfg.args
    runner_cls = RunnerBase if a.scenario == "SingleStream" else QueueRunner
    return runner_cls(
        run.model, run.ds, a.threads, post_proc=run.post_proc, max_batchsize=run.max_batchsize
    )


def log_settings(lg: Any, cfg: RunConfig) -> Any:
    """LoadGen's logs go to the output folder; its summary is not copied to stdout."""
    log_output = lg.LogOutputSettings()
    log_output.outdir = cfg.output_dir
    log_output.copy_summary_to_stdout = False
    settings = lg.LogSettings()
    settings.enable_trace = cfg.args.debug
    settings.log_output = log_output
    return settings


def run_test(lg: Any, cfg: RunConfig, runner: Any, ds: Any, settings: Any) -> dict[str, Any]:
    """One LoadGen test (SUT, QSL, start, tear-down); returns the reference ``result_dict``."""
    a = cfg.args
    count = ds.get_item_count()
    logs = log_settings(lg, cfg)
    perf_count = a.performance_sample_count or min(count, 500)

    def issue_queries(query_samples: Any) -> None:
        runner.enqueue(query_samples)

    def flush_queries() -> None:
        pass

    scratch = tempfile.mkdtemp(prefix="odbench-")
    try:
        audit = audit_config_path(cfg, scratch)
        sut = lg.ConstructSUT(issue_queries, flush_queries)
        qsl = lg.ConstructQSL(count, perf_count, ds.load_query_samples, ds.unload_query_samples)
        result_dict: dict[str, Any] = {"good": 0, "total": 0, "scenario": str(settings.scenario)}
        runner.start_run(result_dict, a.accuracy)
        try:
            lg.StartTestWithLogSettings(sut, qsl, settings, logs, audit)
        finally:
            runner.finish()
            lg.DestroyQSL(qsl)
            lg.DestroySUT(sut)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result_dict


def score(cfg: RunConfig, run: Loaded, result_dict: dict[str, Any]) -> float | None:
    """Accuracy mode: the mAP (a fraction) into ``result_dict`` and ``accuracy.txt``."""
    if not cfg.args.accuracy:
        return None
    result_dict["good"] += run.post_proc.good
    result_dict["total"] += run.post_proc.total
    mAP, text = compute_accuracy(cfg, run.ds)
    result_dict["mAP"] = mAP
    write_text_atomic(os.path.join(cfg.output_dir, "accuracy.txt"), text)
    return mAP


def run_mode(a: argparse.Namespace) -> str:
    """LoadGen's test mode of the run, as the summary names it."""
    if a.find_peak_performance:
        return "FindPeakPerformance"
    return "AccuracyOnly" if a.accuracy else "PerformanceOnly"


def summary_record(
    cfg: RunConfig, run: Loaded, count: int, mAP: float | None, errors: int
) -> dict[str, Any]:
    """The ``odbench_summary.json`` record, from LoadGen's logs and what the run used."""
    from .summary import build_odbench_summary, parse_detail, parse_summary

    a = cfg.args
    summary_path = os.path.join(cfg.output_dir, "mlperf_log_summary.txt")
    summary = parse_summary(summary_path) if os.path.exists(summary_path) else None
    detail_path = os.path.join(cfg.output_dir, "mlperf_log_detail.txt")
    if summary is not None and os.path.exists(detail_path):
        summary["detail_errors"] = parse_detail(detail_path)["_errors"]
    record = build_odbench_summary(
        model=a.model_name,
        profile=a.profile,
        backend=run.model.name(),
        scenario=a.scenario,
        mode=run_mode(a),
        output_dir=cfg.output_dir,
        count=count,
        mAP=None if mAP is None else 100.0 * mAP,
        summary=summary,
    )
    record["model_file"] = os.path.abspath(a.model)
    record["dataset_path"] = os.path.abspath(a.dataset_path)
    record["device"] = run.device
    record["max_batchsize"] = run.max_batchsize
    record["threads"] = a.threads
    record["batch_errors"] = errors
    return record


def run(cfg: RunConfig) -> dict[str, Any]:
    """Run one LoadGen test; returns the ``odbench_summary.json`` record."""
    lg = _loadgen()
    a = cfg.args
    user_conf = prepare_user_conf(cfg) if a.user_conf else None
    loaded = load(cfg)
    final_results: dict[str, Any] = {
        "runtime": loaded.model.name(),
        "version": loaded.model.version(),
        "time": int(time.time()),
        "args": {k: v for k, v in vars(a).items()},
        "cmdline": str(a),
    }
    os.makedirs(cfg.output_dir, exist_ok=True)
    if user_conf is None:
        user_conf = prepare_user_conf(cfg)
    count = loaded.ds.get_item_count()
    warmup(loaded.model, loaded.ds, a.warmup)
    runner = make_runner(cfg, loaded)
    settings = make_settings(lg, cfg, user_conf, count)
    result_dict = run_test(lg, cfg, runner, loaded.ds, settings)
    mAP = score(cfg, loaded, result_dict)
    took = time.time() - loaded.ds.last_loaded
    add_results(
        final_results, str(settings.scenario), result_dict, runner.result_timing, took, a.accuracy
    )
    out = cfg.output_dir
    kw: dict[str, Any] = {"sort_keys": True, "indent": 4, "default": str}
    write_json_atomic(os.path.join(out, "results.json"), final_results, **kw)
    record = summary_record(cfg, loaded, count, mAP, runner.errors)
    write_json_atomic(os.path.join(out, "odbench_summary.json"), record, indent=2, sort_keys=True)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m odbench``; returns the exit code (6 when a batch failed)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
    from .summary import format_summary

    try:
        cfg = resolve_args(argv)
        record = run(cfg)
    except OdBenchError as exc:
        return report("od-bench", exc)
    except KeyboardInterrupt:
        print("od-bench: interrupted", file=sys.stderr)
        return 130
    if not cfg.args.no_summary:
        print(format_summary(record))
    return 0 if record["batch_errors"] == 0 else 6
