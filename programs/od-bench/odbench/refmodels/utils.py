"""``models.utils`` of the MLPerf reference: TF-style layers, box IoU, NMS, box decoding.

Class and buffer names match the reference (``BatchNorm2d.scale``/``.bias``, ``BiasAdd.bias``,
``Conv2d_tf.padding``) because ``ssd_mobilenet_v1.pytorch`` pickles instances of them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BatchNorm2d(nn.Module):
    """Frozen batch norm folded to a per-channel ``scale`` and ``bias`` (buffers)."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(out))
        self.register_buffer("bias", torch.zeros(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class BiasAdd(nn.Module):
    """Frozen batch norm whose scale was folded into the convolution: adds ``bias``."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.register_buffer("bias", torch.zeros(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.view(1, -1, 1, 1)


class Conv2d_tf(nn.Conv2d):  # noqa: N801 - the reference's class name, kept for unpickling
    """Conv2d with TensorFlow's ``SAME`` padding (the odd extra pixel on the bottom/right)."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        mode = kwargs.pop("padding", "same")
        # torch >= 1.9 refuses padding="same" with a stride; forward pads by itself anyway
        super().__init__(*args, padding=0, **kwargs)
        # the reference stores the padding *mode* string here, replacing nn.Conv2d's tuple
        self.padding = mode

    def _compute_padding(self, input: torch.Tensor, dim: int) -> tuple[int, int]:  # noqa: A002
        input_size = input.size(dim + 2)
        filter_size = self.weight.size(dim + 2)
        effective_filter_size = (filter_size - 1) * self.dilation[dim] + 1
        out_size = (input_size + self.stride[dim] - 1) // self.stride[dim]
        total_padding = max(
            0, (out_size - 1) * self.stride[dim] + effective_filter_size - input_size
        )
        return int(total_padding % 2 != 0), total_padding

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002
        if self.padding == "valid":
            return F.conv2d(
                input,
                self.weight,
                self.bias,
                self.stride,
                padding=0,
                dilation=self.dilation,
                groups=self.groups,
            )
        rows_odd, padding_rows = self._compute_padding(input, dim=0)
        cols_odd, padding_cols = self._compute_padding(input, dim=1)
        if rows_odd or cols_odd:
            input = F.pad(input, [0, cols_odd, 0, rows_odd])
        return F.conv2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            padding=(padding_rows // 2, padding_cols // 2),
            dilation=self.dilation,
            groups=self.groups,
        )


def box_area(left_top: torch.Tensor, right_bottom: torch.Tensor) -> torch.Tensor:
    """Areas of boxes given by their two corners (negative extents count as 0)."""
    hw = torch.clamp(right_bottom - left_top, min=0.0)
    return hw[..., 0] * hw[..., 1]


def box_iou(boxes0: torch.Tensor, boxes1: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """IoU of corner-form boxes ``boxes0 [N, 4]`` with ``boxes1 [N or 1, 4]``."""
    overlap_left_top = torch.max(boxes0[..., :2], boxes1[..., :2])
    overlap_right_bottom = torch.min(boxes0[..., 2:], boxes1[..., 2:])
    overlap_area = box_area(overlap_left_top, overlap_right_bottom)
    area0 = box_area(boxes0[..., :2], boxes0[..., 2:])
    area1 = box_area(boxes1[..., :2], boxes1[..., 2:])
    return overlap_area / (area0 + area1 - overlap_area + eps)


def nms(box_scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS on ``[N, 5]`` rows (corner box, score): the kept rows, best score first.

    A box is dropped when its IoU with a kept box exceeds ``iou_threshold`` (``<=`` survives).
    """
    scores = box_scores[:, -1]
    boxes = box_scores[:, :-1]
    picked: list[int] = []
    _, indexes = scores.sort(descending=True)
    while len(indexes) > 0:
        current = indexes[0]
        picked.append(int(current.item()))
        if len(indexes) == 1:
            break
        indexes = indexes[1:]
        iou = box_iou(boxes[indexes, :], boxes[current, :].unsqueeze(0))
        indexes = indexes[iou <= iou_threshold]
    return box_scores[picked, :]


def decode_boxes(
    rel_codes: torch.Tensor, boxes: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """TF Object Detection ``FasterRcnnBoxCoder`` decoding.

    ``rel_codes [N, A, 4]`` are (dy, dx, dh, dw) scaled by ``weights`` (y, x, h, w); ``boxes
    [A, 4]`` are anchors (ymin, xmin, ymax, xmax). Returns ``[N, A, 4]`` as (xmin, ymin, xmax,
    ymax) — note the swap to x first, which the PyTorch post-processor expects.
    """
    wy, wx, wh, ww = weights[0], weights[1], weights[2], weights[3]
    boxes_y1 = boxes[:, 0].unsqueeze(1).unsqueeze(0)
    boxes_x1 = boxes[:, 1].unsqueeze(1).unsqueeze(0)
    boxes_y2 = boxes[:, 2].unsqueeze(1).unsqueeze(0)
    boxes_x2 = boxes[:, 3].unsqueeze(1).unsqueeze(0)
    dy = rel_codes[:, :, 0].unsqueeze(2) / wy
    dx = rel_codes[:, :, 1].unsqueeze(2) / wx
    dh = rel_codes[:, :, 2].unsqueeze(2) / wh
    dw = rel_codes[:, :, 3].unsqueeze(2) / ww

    widths = boxes_x2 - boxes_x1
    heights = boxes_y2 - boxes_y1
    ctr_x = boxes_x1 + 0.5 * widths
    ctr_y = boxes_y1 + 0.5 * heights
    pred_ctr_x = dx * widths + ctr_x
    pred_ctr_y = dy * heights + ctr_y
    pred_w = torch.exp(dw) * widths
    pred_h = torch.exp(dh) * heights
    return torch.cat(
        [
            pred_ctr_x - 0.5 * pred_w,
            pred_ctr_y - 0.5 * pred_h,
            pred_ctr_x + 0.5 * pred_w,
            pred_ctr_y + 0.5 * pred_h,
        ],
        dim=2,
    )
