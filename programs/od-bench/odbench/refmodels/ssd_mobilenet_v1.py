"""``models.ssd_mobilenet_v1`` of the MLPerf reference: SSD-MobileNet-v1 (TF weights) in torch.

``ssd_mobilenet_v1.pytorch`` pickles an :class:`SSD` holding a :class:`MobileNetV1Base`
backbone (an ``nn.ModuleList`` of ``nn.Sequential`` stages whose children are named ``"0"``,
``"0/BatchNorm"``, ``"depthwise"``, ``"pointwise/BatchNorm"``... as in the TF checkpoint),
``extras`` (``nn.ModuleList`` of :class:`Block`) and ``predictors`` (``nn.ModuleList`` of
:class:`PredictionHead`). ``SSD.forward`` decodes the boxes against TF SSD anchors, applies a
sigmoid, keeps scores above ``score_threshold`` (0.3) per class 1..90 and runs NMS (IoU 0.6) on
the CPU; it returns ``[boxes, labels, scores]``, each a list with one tensor per image: boxes
``[K, 4]`` (xmin, ymin, xmax, ymax, normalized), labels ``[K]`` int64 (COCO ids 1..90 as in the
TF label map), scores ``[K]``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .anchor_generator import create_ssd_anchors
from .utils import BatchNorm2d, BiasAdd, Conv2d_tf, decode_boxes, nms


def conv_bn(inp: int, oup: int, stride: int) -> nn.Sequential:
    """First MobileNet stage: 3x3 TF-SAME conv, folded batch norm, ReLU6."""
    return nn.Sequential(
        OrderedDict(
            [
                ("0", Conv2d_tf(inp, oup, 3, stride, padding="same", bias=False)),
                ("0/BatchNorm", BiasAdd(oup)),
                ("0/ReLU", nn.ReLU6(inplace=True)),
            ]
        )
    )


def conv_dw(inp: int, oup: int, stride: int) -> nn.Sequential:
    """Depthwise-separable stage: 3x3 depthwise + 1x1 pointwise, each with BN and ReLU6."""
    return nn.Sequential(
        OrderedDict(
            [
                (
                    "depthwise",
                    Conv2d_tf(inp, inp, 3, stride, padding="same", groups=inp, bias=False),
                ),
                ("depthwise/BatchNorm", BatchNorm2d(inp)),
                ("depthwise/ReLU", nn.ReLU6(inplace=True)),
                ("pointwise", nn.Conv2d(inp, oup, 1, 1, 0, bias=False)),
                ("pointwise/BatchNorm", BiasAdd(oup)),
                ("pointwise/ReLU", nn.ReLU6(inplace=True)),
            ]
        )
    )


# (in, out, stride) of the 13 depthwise-separable stages after conv_bn(3, 32, 2)
_DW_STAGES = (
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 1024, 2),
    (1024, 1024, 1),
)


class MobileNetV1Base(nn.ModuleList):
    """MobileNet-v1 feature extractor returning the outputs of stages ``return_layers``."""

    def __init__(self, return_layers: list[int] | None = None) -> None:
        super().__init__([conv_bn(3, 32, 2)] + [conv_dw(i, o, s) for i, o, s in _DW_STAGES])
        self.return_layers = [11, 13] if return_layers is None else return_layers

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for idx, module in enumerate(self):
            x = module(x)
            if idx in self.return_layers:
                out.append(x)
        return out


class PredictionHead(nn.Module):
    """1x1 class and box convolutions of one feature map, as ``[N, A, C]`` and ``[N, A, 4]``."""

    def __init__(self, in_channels: int, num_classes: int, num_anchors: int) -> None:
        super().__init__()
        self.classification = nn.Conv2d(in_channels, num_classes * num_anchors, kernel_size=1)
        self.regression = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1)
        self.num_classes = num_classes
        self.num_anchors = num_anchors

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bs = x.shape[0]
        class_logits = self.classification(x).permute(0, 2, 3, 1).reshape(bs, -1, self.num_classes)
        box_regression = self.regression(x).permute(0, 2, 3, 1).reshape(bs, -1, 4)
        return class_logits, box_regression


class Block(nn.Sequential):
    """Extra SSD layer: 1x1 conv, ReLU6, 3x3/2 TF-SAME conv, ReLU6."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels=mid_channels, kernel_size=1),
            nn.ReLU6(),
            Conv2d_tf(mid_channels, out_channels, kernel_size=3, stride=2, padding="same"),
            nn.ReLU6(),
        )


class SSD(nn.Module):
    """SSD head on a backbone, with the TF box coder, sigmoid scores and per-class NMS."""

    def __init__(
        self, backbone: nn.Module, predictors: nn.ModuleList, extras: nn.ModuleList
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.extras = extras
        self.predictors = predictors
        # pre-processing constants the reference records (the harness normalizes itself)
        self.image_size = 300
        self.image_mean = 127.5
        self.image_std = 127.5
        self.coder_weights = torch.tensor((10, 10, 5, 5), dtype=torch.float32)
        self._feature_map_shapes = None
        self.nms_threshold = 0.6
        self.score_threshold = 0.3

    def ssd_model(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sigmoid class scores ``[N, A, C]`` and decoded boxes ``[N, A, 4]``."""
        feature_maps = self.backbone(x)
        out = feature_maps[-1]
        for module in self.extras:
            out = module(out)
            feature_maps.append(out)
        results = [
            module(feature) for feature, module in zip(feature_maps, self.predictors, strict=False)
        ]
        class_logits, box_regression = list(zip(*results, strict=False))
        scores = torch.sigmoid(torch.cat(class_logits, 1))
        box_regression = torch.cat(box_regression, 1).squeeze(0)

        shapes = [o.shape[-2:] for o in feature_maps]
        if shapes != self._feature_map_shapes:
            # anchors depend on the feature-map sizes only; cached with them on the module
            self.priors = torch.cat(create_ssd_anchors()._generate(shapes), dim=0).to(scores)
            self._feature_map_shapes = shapes
        self.coder_weights = self.coder_weights.to(scores)
        if box_regression.dim() == 2:
            box_regression = box_regression[None]
        return scores, decode_boxes(box_regression, self.priors, self.coder_weights)

    def forward(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        """``images [N, 3, H, W]`` → ``[boxes, labels, scores]``, one tensor per image each."""
        scores, boxes = self.ssd_model(images)
        list_boxes, list_labels, list_scores = [], [], []
        for b in range(len(scores)):
            bboxes, blabels, bscores = self.filter_results(scores[b], boxes[b])
            list_boxes.append(bboxes)
            list_labels.append(blabels.long())
            list_scores.append(bscores)
        return [list_boxes, list_labels, list_scores]

    def filter_results(
        self, scores: torch.Tensor, boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per class 1..C-1: scores above ``score_threshold``, then NMS; on the CPU, as the
        reference does (its pure-torch NMS is faster there than on a GPU)."""
        cpu = torch.device("cpu")
        boxes = boxes.to(cpu)
        scores = scores.to(cpu)
        selected_box_probs = []
        labels = []
        for class_index in range(1, scores.size(1)):
            probs = scores[:, class_index]
            mask = probs > self.score_threshold
            box_probs = torch.cat([boxes[mask, :], probs[mask].reshape(-1, 1)], dim=1)
            box_probs = nms(box_probs, self.nms_threshold)
            selected_box_probs.append(box_probs)
            labels.append(torch.full((box_probs.size(0),), class_index, dtype=torch.int64))
        selected = torch.cat(selected_box_probs)
        return selected[:, :4], torch.cat(labels), selected[:, 4]

    def rescale_boxes(self, boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Normalized (x, y, x, y) boxes to pixels, in place (unused by forward)."""
        boxes[:, 0] *= width
        boxes[:, 1] *= height
        boxes[:, 2] *= width
        boxes[:, 3] *= height
        return boxes


def create_mobilenetv1_ssd(num_classes: int) -> SSD:
    """The reference network (``num_classes`` 91 for COCO), with random weights."""
    backbone = MobileNetV1Base()
    extras = nn.ModuleList(
        [Block(1024, 256, 512), Block(512, 128, 256), Block(256, 128, 256), Block(256, 64, 128)]
    )
    predictors = nn.ModuleList(
        [
            PredictionHead(in_channels, num_classes, num_anchors)
            for in_channels, num_anchors in zip(
                (512, 1024, 512, 256, 256, 128), (3, 6, 6, 6, 6, 6), strict=False
            )
        ]
    )
    return SSD(backbone, predictors, extras)
