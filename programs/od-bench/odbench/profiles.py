"""Datasets and profiles: the ``SUPPORTED_DATASETS`` / ``SUPPORTED_PROFILES`` tables.

Mirrors ``python/main.py`` of the MLPerf reference (object-detection entries only, see
reference §1.2/§1.3) plus the automotive SSD-ResNet50 on Cognata (§6). Profiles fill every
option the command line left unset (the CLI wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset key is read, pre-processed and post-processed."""

    name: str
    kind: str  # "coco" or "cognata"
    preprocessor: str  # key of preprocess.PREPROCESSORS ("" for cognata: pickles are ready)
    postprocessor: str  # key of postprocess.make_postprocessor
    image_size: tuple[int, int, int] | None = None  # (H, W, C) of the network input
    use_label_map: bool = False  # skip images without annotations, labels 1..80 (coco-1200-pt)
    score_threshold: float | None = None
    use_inv_map: bool = False  # the accuracy tool needs --use-inv-map (labels 1..80)
    extra: dict[str, Any] = field(default_factory=dict)


SUPPORTED_DATASETS: dict[str, DatasetSpec] = {
    "coco-300": DatasetSpec("coco-300", "coco", "coco_mobilenet", "coco", (300, 300, 3)),
    "coco-300-pt": DatasetSpec(
        "coco-300-pt", "coco", "coco_pt_mobilenet", "coco_pt", (300, 300, 3), score_threshold=0.3
    ),
    "coco-1200": DatasetSpec("coco-1200", "coco", "coco_resnet34", "coco", (1200, 1200, 3)),
    "coco-1200-onnx": DatasetSpec(
        "coco-1200-onnx",
        "coco",
        "coco_resnet34",
        "coco_onnx",
        (1200, 1200, 3),
        score_threshold=0.5,
        use_inv_map=True,
    ),
    "coco-1200-pt": DatasetSpec(
        "coco-1200-pt",
        "coco",
        "coco_resnet34",
        "coco_pt",
        (1200, 1200, 3),
        use_label_map=True,
        score_threshold=0.05,
        use_inv_map=True,
    ),
    "coco-1200-tf": DatasetSpec(
        "coco-1200-tf",
        "coco",
        "coco_resnet34",
        "coco_tf",
        (1200, 1200, 3),
        score_threshold=0.05,
        use_inv_map=True,
    ),
    "cognata": DatasetSpec("cognata", "cognata", "", "cognata", (2160, 3840, 3)),
}

# Keys use the command-line spelling (dashes), as in the reference.
SUPPORTED_PROFILES: dict[str, dict[str, Any]] = {
    # The reference defaults are dataset=imagenet/backend=tensorflow; od-bench has neither, so
    # its defaults describe the flagship ssd-mobilenet ONNX run.
    "defaults": {
        "dataset": "coco-300",
        "backend": "onnxruntime",
        "cache": 0,
        "max-batchsize": 32,
        "model-name": "ssd-mobilenet",
    },
    "ssd-mobilenet-onnxruntime": {
        "dataset": "coco-300",
        "outputs": "num_detections:0,detection_boxes:0,detection_scores:0,detection_classes:0",
        "backend": "onnxruntime",
        "data-format": "NHWC",
        "model-name": "ssd-mobilenet",
    },
    "ssd-mobilenet-pytorch": {
        "inputs": "image",
        "outputs": "bboxes,labels,scores",
        "dataset": "coco-300-pt",
        "backend": "pytorch-native",
        "model-name": "ssd-mobilenet",
    },
    "ssd-resnet34-onnxruntime": {
        "dataset": "coco-1200-onnx",
        "inputs": "image",
        "outputs": "bboxes,labels,scores",
        "backend": "onnxruntime",
        "data-format": "NCHW",
        "max-batchsize": 1,
        "model-name": "ssd-resnet34",
    },
    "ssd-resnet34-onnxruntime-tf": {
        "dataset": "coco-1200-tf",
        "inputs": "image:0",
        "outputs": "detection_bboxes:0,detection_classes:0,detection_scores:0",
        "backend": "onnxruntime",
        "data-format": "NHWC",
        "model-name": "ssd-resnet34",
    },
    "ssd-resnet34-pytorch": {
        "inputs": "image",
        "outputs": "bboxes,labels,scores",
        "dataset": "coco-1200-pt",
        "backend": "pytorch-native",
        "model-name": "ssd-resnet34",
    },
    # automotive/2d-object-detection: profile defaults there are dataset=cognata,
    # backend=pytorch, model-name=ssd, plus the argparse defaults of its main.py.
    "ssd-resnet50-onnxruntime": {
        "dataset": "cognata",
        "backend": "onnxruntime",
        "data-format": "NCHW",
        "max-batchsize": 1,
        "threads": 1,
        "performance-sample-count": 128,
        "model-name": "ssd",
    },
    "ssd-resnet50-pytorch": {
        "dataset": "cognata",
        "backend": "pytorch-native",
        "data-format": "NCHW",
        "max-batchsize": 1,
        "threads": 1,
        "performance-sample-count": 128,
        "model-name": "ssd",
    },
}

# Backend spellings accepted on the command line -> od-bench backend.
BACKEND_ALIASES: dict[str, str] = {
    "onnxruntime": "onnxruntime",
    "onnx": "onnxruntime",  # automotive main.py spelling
    "pytorch-native": "pytorch-native",
    "pytorch": "pytorch-native",  # automotive main.py spelling (the COCO `pytorch` is caffe2)
}


def profile_defaults(profile: str | None) -> dict[str, Any]:
    """The merged defaults for ``profile``: ``defaults`` updated by the profile's own keys."""
    merged = dict(SUPPORTED_PROFILES["defaults"])
    if profile:
        if profile not in SUPPORTED_PROFILES or profile == "defaults":
            raise UsageError(
                f"unknown profile '{profile}'",
                hint="choose one of: "
                + ", ".join(k for k in SUPPORTED_PROFILES if k != "defaults"),
            )
        merged.update(SUPPORTED_PROFILES[profile])
    return merged


def apply_profile(args: Any, profile: str | None) -> Any:
    """Set every attribute of ``args`` the command line left ``None`` from the profile.

    Same rule as the reference ``get_args()``: ``getattr(args, k.replace("-", "_"))`` is
    replaced only when it is ``None``.
    """
    for key, value in profile_defaults(profile).items():
        attr = key.replace("-", "_")
        if getattr(args, attr, None) is None:
            setattr(args, attr, value)
    return args
