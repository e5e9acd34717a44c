"""Read LoadGen's ``mlperf_log_summary.txt`` and ``mlperf_log_detail.txt`` into dicts, and
build the ``odbench_summary.json`` record."""

from __future__ import annotations

import json
import os
import re
from typing import Any

# "50.00 percentile latency (ns)   : 339447" -> key "50.00"
_PCT = re.compile(r"^(\d+(?:\.\d+)?) percentile latency \(ns\)$")
SUMMARY_PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")
# odbench_summary.json names them like the loadgen summary, without trailing zeros
_PCT_KEYS = {
    "50.00": "p50",
    "90.00": "p90",
    "95.00": "p95",
    "97.00": "p97",
    "99.00": "p99",
    "99.90": "p99.9",
}


def _value(text: str) -> Any:
    text = text.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_summary_text(text: str) -> dict[str, Any]:
    """Parse a ``mlperf_log_summary.txt``.

    Returns ``{"fields": {key: value}, "percentiles_ns": {"50.00": ns, ...},
    "result_valid": bool|None, "warnings": bool, "errors": bool, "recommendations": [..],
    "constraints": {"Min duration satisfied": bool, ...}}``. ``"Key : value"`` lines become
    fields (numbers converted); the validity line is ``Result is : VALID|INVALID``.
    """
    fields: dict[str, Any] = {}
    percentiles: dict[str, Any] = {}
    constraints: dict[str, bool] = {}
    recommendations: list[str] = []
    in_reco = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("="):
            in_reco = False
            continue
        if line == "Recommendations:":
            in_reco = True
            continue
        if in_reco and line.startswith("*"):
            recommendations.append(line.lstrip("* ").strip())
            continue
        if ":" not in line:
            continue
        key, _, val = line.partition(":")
        key = key.strip()
        m = _PCT.match(key)
        if m:
            percentiles[m.group(1)] = _value(val)
        elif raw.startswith("  ") and val.strip() in ("Yes", "NO", "No"):
            constraints[key] = val.strip() == "Yes"
        else:
            fields[key] = _value(val)
    valid = fields.get("Result is")
    return {
        "fields": fields,
        "percentiles_ns": percentiles,
        "result_valid": None if valid is None else valid == "VALID",
        "constraints": constraints,
        "recommendations": recommendations,
        "warnings": "No warnings encountered during test." not in text,
        "errors": "No errors encountered during test." not in text,
    }


def parse_summary(path: str) -> dict[str, Any]:
    """:func:`parse_summary_text` of the file at ``path``."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_summary_text(f.read())


def parse_detail(path: str) -> dict[str, Any]:
    """The ``:::MLLOG {json}`` records of ``mlperf_log_detail.txt`` as ``{key: value}``.

    Repeated keys (e.g. several ``error_invalid_config``) keep the last value; their count is
    in ``"_counts"``. Error and warning records are also collected in ``"_errors"`` /
    ``"_warnings"`` lists.
    """
    out: dict[str, Any] = {"_counts": {}, "_errors": [], "_warnings": []}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith(":::MLLOG"):
                continue
            try:
                rec = json.loads(line[len(":::MLLOG") :])
            except json.JSONDecodeError:
                continue
            key = rec.get("key")
            if key is None:
                continue
            out[key] = rec.get("value")
            out["_counts"][key] = out["_counts"].get(key, 0) + 1
            meta = rec.get("metadata") or {}
            if meta.get("is_error"):
                out["_errors"].append({"key": key, "value": rec.get("value")})
            if meta.get("is_warning"):
                out["_warnings"].append({"key": key, "value": rec.get("value")})
    return out


_METRIC = re.compile(r"^\d+(?:\.\d+)?th percentile latency \(ns\)$")


def _samples_per_second(scenario: str, fields: dict[str, Any]) -> float | None:
    """Throughput in samples/s: Offline "Samples per second", Server "Completed samples per
    second", SingleStream "QPS w/ loadgen overhead"; MultiStream has no such line, so it is
    samples_per_query / mean query latency (queries run back to back)."""
    for key in ("Samples per second", "Completed samples per second", "QPS w/ loadgen overhead"):
        if isinstance(fields.get(key), (int, float)):
            return float(fields[key])
    mean, spq = fields.get("Mean latency (ns)"), fields.get("samples_per_query")
    if scenario == "MultiStream" and isinstance(mean, (int, float)) and mean > 0 and spq:
        return float(spq) * 1e9 / float(mean)
    return None


def build_odbench_summary(
    *,
    model: str,
    profile: str | None,
    backend: str,
    scenario: str,
    mode: str,
    output_dir: str,
    count: int,
    mAP: float | None,
    summary: dict[str, Any] | None,
) -> dict[str, Any]:
    """The record written as ``odbench_summary.json``.

    ``result_valid`` is LoadGen's VALID/INVALID for performance runs; for accuracy runs (where
    LoadGen prints no verdict) it is true when LoadGen reported no error and mAP was computed.
    """
    fields = (summary or {}).get("fields", {})
    pcts = (summary or {}).get("percentiles_ns", {})
    if mode == "AccuracyOnly":
        valid = bool(summary is not None and not summary["errors"] and mAP is not None)
    else:
        valid = bool(summary is not None and summary.get("result_valid"))
    sps = _samples_per_second(scenario, fields)
    metric = next((v for k, v in fields.items() if _METRIC.match(k)), None)
    why = [] if valid else invalid_reasons(summary, mode, mAP)
    return {
        "model": model,
        "profile": profile,
        "backend": backend,
        "scenario": scenario,
        "mode": mode,
        "result_valid": valid,
        "samples_per_second": float(sps) if isinstance(sps, (int, float)) else None,
        "latency_ns": {_PCT_KEYS[k]: pcts[k] for k in SUMMARY_PERCENTILES if k in pcts},
        "mean_latency_ns": fields.get("Mean latency (ns)"),
        # the scenario's official latency metric, e.g. "90.0th percentile latency (ns)"
        "metric_latency_ns": metric,
        "mAP": mAP,
        "count": count,
        "output_dir": os.path.abspath(output_dir),
        "loadgen_errors": bool(summary["errors"]) if summary else None,
        "loadgen_warnings": bool(summary["warnings"]) if summary else None,
        "invalid_reasons": why,
    }


def invalid_reasons(summary: dict[str, Any] | None, mode: str, mAP: float | None) -> list[str]:
    """Why a run is INVALID, in LoadGen's words: its unmet constraints ("Min duration
    satisfied : NO"), its recommendations, and the errors of ``mlperf_log_detail.txt``."""
    if summary is None:
        return ["LoadGen wrote no mlperf_log_summary.txt"]
    out = [f"{k}: NO" for k, ok in (summary.get("constraints") or {}).items() if not ok]
    out += list(summary.get("recommendations") or [])
    out += [f"{e['key']}: {e['value']}" for e in summary.get("detail_errors") or []]
    if summary.get("errors") and not summary.get("detail_errors"):
        out.append("LoadGen reported errors (see mlperf_log_detail.txt)")
    if mode == "AccuracyOnly" and mAP is None:
        out.append("no mAP was computed")
    return out or ["LoadGen printed INVALID without a reason (see mlperf_log_summary.txt)"]


def format_summary(rec: dict[str, Any]) -> str:
    """The short human summary printed at the end of a run."""
    device = f" device={rec['device']}" if rec.get("device") else ""
    lines = [
        f"od-bench: model={rec['model']} profile={rec['profile']} backend={rec['backend']}{device}",
    ]
    if rec.get("model_file"):
        lines.append(f"  model file: {rec['model_file']}")
    if rec.get("dataset_path"):
        lines.append(f"  data set: {rec['dataset_path']} ({rec['count']} images used)")
    lines.append(
        f"  scenario={rec['scenario']} mode={rec['mode']} count={rec['count']} "
        f"result={'VALID' if rec['result_valid'] else 'INVALID'}"
    )
    for why in rec.get("invalid_reasons") or []:
        lines.append(f"  INVALID because: {why}")
    if rec["mode"] != "AccuracyOnly":
        if rec["samples_per_second"] is not None:
            lines.append(f"  samples/s={rec['samples_per_second']:.3f}")
        lat = rec["latency_ns"]
        if lat:
            lines.append("  latency ms: " + " ".join(f"{k}={v / 1e6:.3f}" for k, v in lat.items()))
    if rec["mAP"] is not None:
        lines.append(f"  mAP={rec['mAP']:.3f}%")
    lines.append(f"  output: {rec['output_dir']}")
    return "\n".join(lines)
