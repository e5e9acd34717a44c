"""A small SSD-style detector for the shapes-coco dataset, and its ONNX export.

Architecture (input 300x300): a plain conv-BN-ReLU backbone, four detection levels at strides
8, 16, 32 and 60 (feature maps 38, 19, 10 and 5), 4 anchors per cell (aspect ratios 1, 2, 1/2
at scale s_k and ratio 1 at sqrt(s_k * s_k+1)), 3x3 convolutional heads predicting SSD box
offsets (variances 0.1 / 0.2) and softmax class scores with class 0 = background.

The exported ONNX model has the signature of the MLPerf SSD-MobileNet ONNX profile:

    image_tensor:0      uint8   [N, 300, 300, 3]  NHWC RGB 0..255 (normalised in the graph)
    num_detections:0    float32 [N]
    detection_boxes:0   float32 [N, 100, 4]       normalised (ymin, xmin, ymax, xmax)
    detection_scores:0  float32 [N, 100]
    detection_classes:0 float32 [N, 100]          COCO category ids

Box decoding and softmax are traced from torch; score threshold, per-class NMS and the top-100
selection are ONNX nodes (NonMaxSuppression, ScatterND, TopK, GatherND) added with onnx.helper.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import torch
from torch import nn

IMAGE_SIZE = 300
FEATURE_SIZES = (38, 19, 10, 5)
ANCHOR_SCALES = (0.07, 0.14, 0.26, 0.45, 0.7)  # s_k per level; the last only sets sqrt(s4*s5)
ASPECT_RATIOS = (1.0, 2.0, 0.5)  # width/height; plus one extra square anchor per cell
ANCHORS_PER_CELL = len(ASPECT_RATIOS) + 1
VARIANCES = (0.1, 0.2)
MAX_DETECTIONS = 100
INPUT_NAME = "image_tensor:0"
OUTPUT_NAMES = (
    "num_detections:0",
    "detection_boxes:0",
    "detection_scores:0",
    "detection_classes:0",
)


def make_anchors() -> torch.Tensor:
    """Default boxes ``[A, 4]`` as normalised ``(cy, cx, h, w)``, level by level, row-major."""
    rows = []
    for k, size in enumerate(FEATURE_SIZES):
        s, s_next = ANCHOR_SCALES[k], ANCHOR_SCALES[k + 1]
        shapes = [(s / math.sqrt(r), s * math.sqrt(r)) for r in ASPECT_RATIOS]  # (h, w)
        shapes.append((math.sqrt(s * s_next),) * 2)
        for i in range(size):
            for j in range(size):
                cy, cx = (i + 0.5) / size, (j + 0.5) / size
                rows.extend((cy, cx, h, w) for h, w in shapes)
    return torch.tensor(rows, dtype=torch.float32)


def _conv(cin: int, cout: int, stride: int = 1, kernel: int = 3, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SSDShapes(nn.Module):
    """Backbone + heads. ``forward`` takes uint8 NHWC images, returns (loc, logits)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(  # 300 -> 38
            _conv(3, 16, 2),
            _conv(16, 32, 2),
            _conv(32, 32),
            _conv(32, 64, 2),
            _conv(64, 64),
        )
        self.level2 = nn.Sequential(_conv(64, 88, 2), _conv(88, 88))  # 38 -> 19
        self.level3 = nn.Sequential(_conv(88, 48, 1, 1, 0), _conv(48, 128, 2))  # 19 -> 10
        self.level4 = nn.Sequential(_conv(128, 48, 1, 1, 0), _conv(48, 96, 2))  # 10 -> 5
        channels = (64, 88, 128, 96)
        out = ANCHORS_PER_CELL * (4 + num_classes + 1)
        self.heads = nn.ModuleList(nn.Conv2d(c, out, 3, padding=1) for c in channels)

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The four feature maps for a uint8 ``[N, 300, 300, 3]`` RGB batch."""
        x = images.permute(0, 3, 1, 2).float() * (1.0 / 127.5) - 1.0
        f1 = self.stem(x)
        f2 = self.level2(f1)
        f3 = self.level3(f2)
        f4 = self.level4(f3)
        return [f1, f2, f3, f4]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Box offsets ``[N, A, 4]`` and class logits ``[N, A, num_classes + 1]``."""
        n = images.shape[0]
        per_anchor = 4 + self.num_classes + 1
        outs = []
        for feat, head in zip(self.features(images), self.heads, strict=True):
            y = head(feat).permute(0, 2, 3, 1).reshape(n, -1, per_anchor)
            outs.append(y)
        y = torch.cat(outs, dim=1)
        return y[..., :4], y[..., 4:]


def encode_boxes(gt: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """SSD offsets of ``(ymin, xmin, ymax, xmax)`` boxes relative to ``(cy, cx, h, w)`` anchors."""
    cy = (gt[:, 0] + gt[:, 2]) / 2
    cx = (gt[:, 1] + gt[:, 3]) / 2
    h = (gt[:, 2] - gt[:, 0]).clamp(min=1e-6)
    w = (gt[:, 3] - gt[:, 1]).clamp(min=1e-6)
    return torch.stack(
        [
            (cy - anchors[:, 0]) / anchors[:, 2] / VARIANCES[0],
            (cx - anchors[:, 1]) / anchors[:, 3] / VARIANCES[0],
            torch.log(h / anchors[:, 2]) / VARIANCES[1],
            torch.log(w / anchors[:, 3]) / VARIANCES[1],
        ],
        dim=-1,
    )


def decode_boxes(loc: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode_boxes` for ``[..., A, 4]`` offsets, clipped to [0, 1]."""
    cy = anchors[:, 0] + loc[..., 0] * VARIANCES[0] * anchors[:, 2]
    cx = anchors[:, 1] + loc[..., 1] * VARIANCES[0] * anchors[:, 3]
    h = anchors[:, 2] * torch.exp(loc[..., 2] * VARIANCES[1])
    w = anchors[:, 3] * torch.exp(loc[..., 3] * VARIANCES[1])
    boxes = torch.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], dim=-1)
    return boxes.clamp(0.0, 1.0)


def anchors_as_corners(anchors: torch.Tensor) -> torch.Tensor:
    """``(cy, cx, h, w)`` -> ``(ymin, xmin, ymax, xmax)``."""
    half = anchors[:, 2:] / 2
    return torch.cat([anchors[:, :2] - half, anchors[:, :2] + half], dim=1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``[len(a), len(b)]`` of corner boxes."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(dim=-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(dim=-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


class _DecodeForExport(nn.Module):
    """Network + box decoding + softmax: the part of the ONNX graph traced from torch."""

    def __init__(self, net: SSDShapes) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("anchors", make_anchors())

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, logits = self.net(images)
        boxes = decode_boxes(loc, self.anchors)
        scores = torch.softmax(logits, dim=-1)[..., 1:].transpose(1, 2)  # [N, C, A]
        return boxes, scores


def _postprocess_nodes(
    category_ids: Sequence[int], score_threshold: float, iou_threshold: float
) -> tuple[list, list]:
    """ONNX nodes mapping ``boxes [N,A,4]``, ``scores [N,C,A]`` to the four SSD outputs."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: np.ndarray):
        return numpy_helper.from_array(value, name)

    inits = [
        const("pp_max_per_class", np.array([MAX_DETECTIONS], np.int64)),
        const("pp_iou", np.array([iou_threshold], np.float32)),
        const("pp_score", np.array([score_threshold], np.float32)),
        const("pp_k", np.array([MAX_DETECTIONS], np.int64)),
        const("pp_flat_shape", np.array([0, -1], np.int64)),
        const("pp_axis_last", np.array([-1], np.int64)),
        const("pp_axis_1", np.array([1], np.int64)),
        const("pp_category_ids", np.array(category_ids, np.float32)),
    ]
    mk = helper.make_node
    nodes = [
        mk(
            "NonMaxSuppression",
            ["pp_boxes", "pp_scores", "pp_max_per_class", "pp_iou", "pp_score"],
            ["pp_selected"],
            center_point_box=0,
        ),
        mk("GatherND", ["pp_scores", "pp_selected"], ["pp_selected_scores"]),
        # Dense [N, C, A] map holding the score of every kept (class, box), 0 elsewhere:
        # this turns the flat NMS result back into per-image rows without loops.
        mk("Shape", ["pp_scores"], ["pp_scores_shape"]),
        mk(
            "ConstantOfShape",
            ["pp_scores_shape"],
            ["pp_zeros"],
            value=helper.make_tensor("pp_zero", TensorProto.FLOAT, [1], [0.0]),
        ),
        mk("ScatterND", ["pp_zeros", "pp_selected", "pp_selected_scores"], ["pp_kept"]),
        mk("Reshape", ["pp_kept", "pp_flat_shape"], ["pp_kept_flat"]),
        mk("TopK", ["pp_kept_flat", "pp_k"], ["pp_top_scores", "pp_top_index"], axis=1),
        mk("Shape", ["pp_boxes"], ["pp_boxes_shape"]),
        mk("Gather", ["pp_boxes_shape", "pp_axis_1"], ["pp_num_anchors"], axis=0),
        mk("Div", ["pp_top_index", "pp_num_anchors"], ["pp_top_class"]),
        mk("Mod", ["pp_top_index", "pp_num_anchors"], ["pp_top_anchor"]),
        mk("Unsqueeze", ["pp_top_anchor", "pp_axis_last"], ["pp_top_anchor_1"]),
        mk("GatherND", ["pp_boxes", "pp_top_anchor_1"], ["pp_top_boxes"], batch_dims=1),
        mk("Greater", ["pp_top_scores", "pp_zero_scalar"], ["pp_valid"]),
        mk("Cast", ["pp_valid"], ["pp_valid_f"], to=TensorProto.FLOAT),
        mk("ReduceSum", ["pp_valid_f", "pp_axis_1"], [OUTPUT_NAMES[0]], keepdims=0),
        mk("Unsqueeze", ["pp_valid_f", "pp_axis_last"], ["pp_valid_f_1"]),
        mk("Mul", ["pp_top_boxes", "pp_valid_f_1"], [OUTPUT_NAMES[1]]),
        mk("Identity", ["pp_top_scores"], [OUTPUT_NAMES[2]]),
        mk("Gather", ["pp_category_ids", "pp_top_class"], ["pp_top_category"], axis=0),
        mk("Mul", ["pp_top_category", "pp_valid_f"], [OUTPUT_NAMES[3]]),
    ]
    inits.append(const("pp_zero_scalar", np.array(0.0, np.float32)))
    return nodes, inits


def export_onnx(
    net: SSDShapes,
    category_ids: Sequence[int],
    score_threshold: float = 0.01,
    iou_threshold: float = 0.5,
    opset: int = 17,
) -> bytes:
    """Serialised ONNX model with the SSD-MobileNet profile signature (see module docstring)."""
    import warnings

    import onnx
    from onnx import TensorProto, helper

    if len(category_ids) != net.num_classes:
        raise ValueError(f"{len(category_ids)} category ids for {net.num_classes} classes")
    wrapper = _DecodeForExport(net).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter is deprecated but needs no onnxscript
        torch.onnx.export(
            wrapper,
            torch.zeros(1, IMAGE_SIZE, IMAGE_SIZE, 3, dtype=torch.uint8),
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=["pp_boxes", "pp_scores"],
            dynamic_axes={INPUT_NAME: {0: "N"}},
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    nodes, inits = _postprocess_nodes(category_ids, score_threshold, iou_threshold)
    graph = model.graph
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(OUTPUT_NAMES[0], TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info(
                OUTPUT_NAMES[1], TensorProto.FLOAT, ["N", MAX_DETECTIONS, 4]
            ),
            helper.make_tensor_value_info(
                OUTPUT_NAMES[2], TensorProto.FLOAT, ["N", MAX_DETECTIONS]
            ),
            helper.make_tensor_value_info(
                OUTPUT_NAMES[3], TensorProto.FLOAT, ["N", MAX_DETECTIONS]
            ),
        ]
    )
    graph.name = "ssd_shapes"
    model.producer_name = "ckx train-ssd-shapes"
    model.producer_version = "1"
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
