"""``models.ssd_r34`` of the MLPerf reference: SSD-ResNet34 at 1200x1200 with its decoder.

``resnet34-ssd1200.pytorch`` pickles an :class:`SSD_R34` (backbone ``model``, a
``models.base_model_r34.ResNet34``; ``additional_blocks``, ``loc``, ``conf`` as
``nn.ModuleList``) and its :class:`Encoder` (plain object holding the 15130 default boxes).
``forward`` returns ``Encoder.decode_batch(locs, confs, 0.50, 200)``: ``[boxes, labels,
scores]``, each a list with one tensor per image: boxes ``[K, 4]`` (xmin, ymin, xmax, ymax,
normalized), labels ``[K]`` int64 (contiguous classes 1..80, the harness maps them to COCO ids),
scores ``[K]`` in *ascending* order, K <= 200.
"""

from __future__ import annotations

import itertools
from math import sqrt

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .base_model_r34 import ResNet34


class Encoder:
    """Decodes SSD outputs against default boxes (ltrb for IoU, xywh for decoding)."""

    def __init__(self, dboxes: DefaultBoxes) -> None:
        self.dboxes = dboxes(order="ltrb")
        self.dboxes_xywh = dboxes(order="xywh").unsqueeze(dim=0)
        self.nboxes = self.dboxes.size(0)
        self.scale_xy = torch.tensor(dboxes.scale_xy)
        self.scale_wh = torch.tensor(dboxes.scale_wh)

    def decode_batch(
        self,
        bboxes_in: torch.Tensor,
        scores_in: torch.Tensor,
        criteria: float = 0.45,
        max_output: int = 200,
    ) -> list[list[torch.Tensor]]:
        """``bboxes_in [N, 4, B]``, ``scores_in [N, C, B]`` → per-image boxes, labels, scores."""
        self.dboxes = self.dboxes.to(bboxes_in)
        self.dboxes_xywh = self.dboxes_xywh.to(bboxes_in)
        bboxes, probs = scale_back_batch(
            bboxes_in, scores_in, self.scale_xy, self.scale_wh, self.dboxes_xywh
        )
        boxes, labels, scores = [], [], []
        for bbox, prob in zip(bboxes.split(1, 0), probs.split(1, 0), strict=False):
            dbox, dlabel, dscore = self.decode_single(
                bbox.squeeze(0), prob.squeeze(0), criteria, max_output
            )
            boxes.append(dbox)
            labels.append(dlabel)
            scores.append(dscore)
        return [boxes, labels, scores]

    def decode_single(
        self,
        bboxes_in: torch.Tensor,
        scores_in: torch.Tensor,
        criteria: float,
        max_output: int,
        max_num: int = 200,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per class 1..C-1: scores > 0.05, the best ``max_num``, greedy NMS (keep IoU <
        ``criteria``); then the ``max_output`` best overall, in ascending score order."""
        bboxes_out, scores_out, labels_out = [], [], []
        for i, score in enumerate(scores_in.split(1, 1)):
            if i == 0:  # background
                continue
            score = score.squeeze(1)
            mask = score > 0.05
            bboxes, score = bboxes_in[mask, :], score[mask]
            if score.size(0) == 0:
                continue
            _, score_idx_sorted = score.sort(dim=0)
            score_idx_sorted = score_idx_sorted[-max_num:]
            candidates = []
            while score_idx_sorted.numel() > 0:
                idx = score_idx_sorted[-1].item()
                iou_sorted = calc_iou_tensor(
                    bboxes[score_idx_sorted, :], bboxes[idx, :].unsqueeze(dim=0)
                ).squeeze()
                score_idx_sorted = score_idx_sorted[iou_sorted < criteria]
                candidates.append(idx)
            bboxes_out.append(bboxes[candidates, :])
            scores_out.append(score[candidates])
            labels_out.extend([i] * len(candidates))
        if not bboxes_out:
            # the reference fails here (torch.cat of nothing); an image without any score
            # above 0.05 simply has no detections
            return (
                bboxes_in.new_zeros((0, 4)),
                torch.zeros(0, dtype=torch.long),
                scores_in.new_zeros((0,)),
            )
        bboxes_cat = torch.cat(bboxes_out, dim=0)
        labels_t = torch.tensor(labels_out, dtype=torch.long)
        scores_cat = torch.cat(scores_out, dim=0)
        _, max_ids = scores_cat.sort(dim=0)
        max_ids = max_ids[-max_output:]
        return bboxes_cat[max_ids, :], labels_t[max_ids], scores_cat[max_ids]


def calc_iou_tensor(box1: torch.Tensor, box2: torch.Tensor) -> torch.Tensor:
    """IoU ``[N, M]`` of ltrb boxes ``box1 [N, 4]`` and ``box2 [M, 4]``, as the reference
    computes it: its clamp of negative overlaps (``delta.clone().masked_fill_``) fills a copy
    and is lost, so two boxes apart in both x and y get a positive "intersection". Kept so
    that NMS drops exactly the boxes the reference drops."""
    n, m = box1.size(0), box2.size(0)
    be1 = box1.unsqueeze(1).expand(-1, m, -1)
    be2 = box2.unsqueeze(0).expand(n, -1, -1)
    lt = torch.max(be1[:, :, :2], be2[:, :, :2])
    rb = torch.min(be1[:, :, 2:], be2[:, :, 2:])
    delta = rb - lt
    intersect = delta[:, :, 0] * delta[:, :, 1]
    delta1 = be1[:, :, 2:] - be1[:, :, :2]
    area1 = delta1[:, :, 0] * delta1[:, :, 1]
    delta2 = be2[:, :, 2:] - be2[:, :, :2]
    area2 = delta2[:, :, 0] * delta2[:, :, 1]
    return intersect / (area1 + area2 - intersect)


def scale_back_batch(
    bboxes_in: torch.Tensor,
    scores_in: torch.Tensor,
    scale_xy: torch.Tensor,
    scale_wh: torch.Tensor,
    dboxes_xywh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, 4, B]`` offsets → ``[N, B, 4]`` ltrb boxes, ``[N, C, B]`` logits → softmax
    ``[N, B, C]``. Like the reference it writes into ``bboxes_in`` (through a permuted view)."""
    bboxes_in = bboxes_in.permute(0, 2, 1)
    scores_in = scores_in.permute(0, 2, 1)
    bboxes_in[:, :, :2] = scale_xy * bboxes_in[:, :, :2]
    bboxes_in[:, :, 2:] = scale_wh * bboxes_in[:, :, 2:]
    bboxes_in[:, :, :2] = bboxes_in[:, :, :2] * dboxes_xywh[:, :, 2:] + dboxes_xywh[:, :, :2]
    bboxes_in[:, :, 2:] = bboxes_in[:, :, 2:].exp() * dboxes_xywh[:, :, 2:]
    cx, cy, w, h = (bboxes_in[:, :, k] for k in range(4))
    ltrb = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=2)
    bboxes_in[:, :, :] = ltrb
    return bboxes_in, F.softmax(scores_in, dim=-1)


class DefaultBoxes:
    """SSD default boxes (cx, cy, w, h) clamped to [0, 1], with an ltrb copy."""

    def __init__(
        self,
        fig_size: list[int],
        feat_size: list[list[int]],
        steps: list,
        scales: list,
        aspect_ratios: list[list[int]],
        scale_xy: float = 0.1,
        scale_wh: float = 0.2,
    ) -> None:
        self.feat_size = feat_size
        self.fig_size_w, self.fig_size_h = fig_size
        self.scale_xy_ = scale_xy
        self.scale_wh_ = scale_wh
        self.steps_w = [st[0] for st in steps]
        self.steps_h = [st[1] for st in steps]
        self.scales = scales
        fkw = self.fig_size_w // np.array(self.steps_w)
        fkh = self.fig_size_h // np.array(self.steps_h)
        self.aspect_ratios = aspect_ratios
        self.default_boxes = []
        # order: level, box size, row i, column j (caffe SSD's layout)
        for idx, (sfeat_w, sfeat_h) in enumerate(self.feat_size):
            sk1 = scales[idx][0] / self.fig_size_w
            sk2 = scales[idx + 1][1] / self.fig_size_h
            sk3 = sqrt(sk1 * sk2)
            all_sizes = [(sk1, sk1), (sk3, sk3)]
            for alpha in aspect_ratios[idx]:
                w, h = sk1 * sqrt(alpha), sk1 / sqrt(alpha)
                all_sizes.append((w, h))
                all_sizes.append((h, w))
            for w, h in all_sizes:
                for i, j in itertools.product(range(sfeat_w), range(sfeat_h)):
                    cx, cy = (j + 0.5) / fkh[idx], (i + 0.5) / fkw[idx]
                    self.default_boxes.append((cx, cy, w, h))
        self.dboxes = torch.tensor(self.default_boxes)
        self.dboxes.clamp_(min=0, max=1)
        self.dboxes_ltrb = self.dboxes.clone()
        self.dboxes_ltrb[:, 0] = self.dboxes[:, 0] - 0.5 * self.dboxes[:, 2]
        self.dboxes_ltrb[:, 1] = self.dboxes[:, 1] - 0.5 * self.dboxes[:, 3]
        self.dboxes_ltrb[:, 2] = self.dboxes[:, 0] + 0.5 * self.dboxes[:, 2]
        self.dboxes_ltrb[:, 3] = self.dboxes[:, 1] + 0.5 * self.dboxes[:, 3]

    @property
    def scale_xy(self) -> float:
        """Scale of the centre offsets (0.1)."""
        return self.scale_xy_

    @property
    def scale_wh(self) -> float:
        """Scale of the log size offsets (0.2)."""
        return self.scale_wh_

    def __call__(self, order: str = "ltrb") -> torch.Tensor | None:
        if order == "ltrb":
            return self.dboxes_ltrb
        if order == "xywh":
            return self.dboxes
        return None


def dboxes_R34_coco(figsize: list[int], strides: list[int]) -> DefaultBoxes:  # noqa: N802
    """Default boxes of the 1200x1200 model: grids 50, 25, 13, 7, 3, 3."""
    feat_size = [[50, 50], [25, 25], [13, 13], [7, 7], [3, 3], [3, 3]]
    steps = [(int(figsize[0] / fs[0]), int(figsize[1] / fs[1])) for fs in feat_size]
    scales = [
        (int(s * figsize[0] / 300), int(s * figsize[1] / 300))
        for s in [21, 45, 99, 153, 207, 261, 315]
    ]
    aspect_ratios = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
    return DefaultBoxes(figsize, feat_size, steps, scales, aspect_ratios)


class SSD_R34(nn.Module):  # noqa: N801 - the reference's class name, kept for unpickling
    """SSD on a truncated ResNet-34, 81 labels (background 0), decoding in ``forward``."""

    def __init__(
        self,
        label_num: int = 81,
        backbone: str = "resnet34",
        model_path: str = "./resnet34-333f7ec4.pth",
        strides: list[int] | None = None,
        extract_shapes: bool = False,
    ) -> None:
        super().__init__()
        self.label_num = label_num
        self.strides = [3, 3, 2, 2, 2, 2] if strides is None else strides
        if backbone != "resnet34":
            raise ValueError("Invalid backbone chosen")
        self.model = ResNet34()
        self.out_chan = [256, 512, 512, 256, 256, 256]
        self._build_additional_features(self.out_chan)
        self.extract_shapes = extract_shapes
        self.num_defaults = [4, 6, 6, 6, 4, 4]
        self.loc = nn.ModuleList(
            [
                nn.Conv2d(oc, nd * 4, kernel_size=3, padding=1, stride=self.strides[0])
                for nd, oc in zip(self.num_defaults, self.out_chan, strict=False)
            ]
        )
        self.conf = nn.ModuleList(
            [
                nn.Conv2d(oc, nd * label_num, kernel_size=3, padding=1, stride=self.strides[1])
                for nd, oc in zip(self.num_defaults, self.out_chan, strict=False)
            ]
        )
        if not extract_shapes:
            self.size = (1200, 1200)
            self.encoder = Encoder(dboxes_R34_coco(list(self.size), [3, 3, 2, 2, 2, 2]))
        self._init_weights()
        self.device = 1

    def _build_additional_features(self, input_channels: list[int]) -> None:
        # (mid channels, padding of the 3x3, stride of the 3x3) of conv8 .. conv11
        specs = [
            (256, 1, self.strides[2]),
            (256, 1, self.strides[3]),
            (128, 1, self.strides[4]),
            (128, 0, self.strides[5]),
            (128, 0, 1),
        ]
        self.additional_blocks = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv2d(input_channels[idx], mid, kernel_size=1),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(
                        mid, input_channels[idx + 1], kernel_size=3, padding=pad, stride=stride
                    ),
                    nn.ReLU(inplace=True),
                )
                for idx, (mid, pad, stride) in enumerate(specs)
            ]
        )

    def _init_weights(self) -> None:
        for layer in [*self.additional_blocks, *self.loc, *self.conf]:
            for param in layer.parameters():
                if param.dim() > 1:
                    nn.init.xavier_uniform_(param)

    def bbox_view(
        self,
        src: list[torch.Tensor],
        loc: nn.ModuleList,
        conf: nn.ModuleList,
        extract_shapes: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
        """Heads on every feature map, flattened to ``[N, 4, B]`` and ``[N, label_num, B]``."""
        ret = []
        features_shapes = []
        for s, head_loc, head_conf in zip(src, loc, conf, strict=False):
            ret.append(
                (
                    head_loc(s).view(s.size(0), 4, -1),
                    head_conf(s).view(s.size(0), self.label_num, -1),
                )
            )
            if extract_shapes:
                ls = head_loc(s)
                features_shapes.append([ls.shape[2], ls.shape[3]])
        locs, confs = list(zip(*ret, strict=False))
        return torch.cat(locs, 2).contiguous(), torch.cat(confs, 2).contiguous(), features_shapes

    def forward(self, data: torch.Tensor):  # noqa: ANN201 - two return shapes, as the reference
        """Decoded ``[boxes, labels, scores]``; ``(locs, confs, shapes)`` if ``extract_shapes``."""
        layers = self.model(data)
        x = layers[-1]
        additional_results = []
        for block in self.additional_blocks:
            x = block(x)
            additional_results.append(x)
        src = [*layers, *additional_results]
        locs, confs, features_shapes = self.bbox_view(
            src, self.loc, self.conf, extract_shapes=self.extract_shapes
        )
        if self.extract_shapes:
            return locs, confs, features_shapes
        return self.encoder.decode_batch(locs, confs, 0.50, 200)
