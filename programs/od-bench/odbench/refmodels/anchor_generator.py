"""``models.anchor_generator`` of the MLPerf reference: TF Object Detection SSD anchors in torch.

``models.ssd_mobilenet_v1.SSD`` calls ``create_ssd_anchors()._generate(shapes)`` whenever the
feature-map shapes change, so the anchors follow the TF defaults: 6 layers, scales linear from
0.2 to 0.95, aspect ratios (1, 2, 1/2, 3, 1/3) plus one interpolated-scale square anchor, and
three boxes ((0.1, 1), (s, 2), (s, 1/2)) on the lowest layer. Anchors are (ymin, xmin, ymax,
xmax) in normalized image coordinates, box spec fastest, then column, then row, then layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def expanded_shape(orig_shape: Sequence[int], start_dim: int, num_dims: int) -> tuple:
    """``orig_shape`` with ``num_dims`` ones inserted at ``start_dim``."""
    return tuple(orig_shape[:start_dim]) + (1,) * num_dims + tuple(orig_shape[start_dim:])


def meshgrid(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """TF-style meshgrid: both outputs have shape ``y.shape + x.shape``."""
    x = torch.as_tensor(x)
    y = torch.as_tensor(y)
    x_exp_shape = expanded_shape(x.shape, 0, y.dim())
    y_exp_shape = expanded_shape(y.shape, y.dim(), x.dim())
    new_shape = tuple(y.shape) + tuple(x.shape)
    xgrid = torch.reshape(x, x_exp_shape).repeat(*y_exp_shape).reshape(new_shape)
    ygrid = torch.reshape(y, y_exp_shape).repeat(*x_exp_shape).reshape(new_shape)
    return xgrid, ygrid


def _center_size_bbox_to_corners_bbox(centers: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    return torch.cat([centers - 0.5 * sizes, centers + 0.5 * sizes], 1)


def tile_anchors(
    grid_height: int,
    grid_width: int,
    scales: Sequence[float],
    aspect_ratios: Sequence[float],
    base_anchor_size: Sequence[float],
    anchor_stride: Sequence[float],
    anchor_offset: Sequence[float],
) -> torch.Tensor:
    """The basis boxes (scale, aspect ratio) placed at every point of one grid: ``[K, 4]``."""
    aspect_ratios_t = torch.as_tensor(aspect_ratios, dtype=torch.float32)
    scales_t = torch.as_tensor(scales, dtype=torch.float32)
    ratio_sqrts = torch.sqrt(aspect_ratios_t)
    heights = scales_t / ratio_sqrts * base_anchor_size[0]
    widths = scales_t * ratio_sqrts * base_anchor_size[1]

    y_centers = torch.arange(grid_height, dtype=torch.float32) * anchor_stride[0] + anchor_offset[0]
    x_centers = torch.arange(grid_width, dtype=torch.float32) * anchor_stride[1] + anchor_offset[1]
    x_centers, y_centers = meshgrid(x_centers, y_centers)
    widths_grid, x_centers_grid = meshgrid(widths, x_centers)
    heights_grid, y_centers_grid = meshgrid(heights, y_centers)

    bbox_centers = torch.stack([y_centers_grid, x_centers_grid], dim=3).reshape(-1, 2)
    bbox_sizes = torch.stack([heights_grid, widths_grid], dim=3).reshape(-1, 2)
    return _center_size_bbox_to_corners_bbox(bbox_centers, bbox_sizes)


def create_ssd_anchors(
    num_layers: int = 6,
    min_scale: float = 0.2,
    max_scale: float = 0.95,
    scales: list[float] | None = None,
    aspect_ratios: Sequence[float] = (1.0, 2.0, 1.0 / 2, 3.0, 1.0 / 3),
    interpolated_scale_aspect_ratio: float = 1.0,
    base_anchor_size: Sequence[float] | None = None,
    anchor_strides: list | None = None,
    anchor_offsets: list | None = None,
    reduce_boxes_in_lowest_layer: bool = True,
) -> MultipleGridAnchorGenerator:
    """The SSD anchor generator of the TF Object Detection API (``ssd_anchor_generator``)."""
    base = torch.tensor(
        base_anchor_size if base_anchor_size is not None else [1.0, 1.0], dtype=torch.float32
    )
    if not scales:
        scales = [
            min_scale + (max_scale - min_scale) * i / (num_layers - 1) for i in range(num_layers)
        ] + [1.0]
    else:
        # the extra 1.0 only feeds the interpolated scale of the largest layer
        scales = list(scales) + [1.0]
    box_specs_list = []
    for layer, scale, scale_next in zip(range(num_layers), scales[:-1], scales[1:], strict=False):
        if layer == 0 and reduce_boxes_in_lowest_layer:
            layer_box_specs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
        else:
            layer_box_specs = [(scale, ratio) for ratio in aspect_ratios]
            if interpolated_scale_aspect_ratio > 0.0:
                layer_box_specs.append(
                    (math.sqrt(scale * scale_next), interpolated_scale_aspect_ratio)
                )
        box_specs_list.append(layer_box_specs)
    return MultipleGridAnchorGenerator(box_specs_list, base, anchor_strides, anchor_offsets)


def _check_pairs(arg: list, arg_name: str, length: int) -> None:
    if not (isinstance(arg, list) and len(arg) == length):
        raise ValueError(f"{arg_name} must be a list with the same length as self._box_specs")
    if not all(isinstance(item, tuple) and len(item) == 2 for item in arg):
        raise ValueError(f"{arg_name} must be a list of pairs.")


class MultipleGridAnchorGenerator:
    """Anchors for several feature-map grids from per-grid (scale, aspect ratio) lists."""

    def __init__(
        self,
        box_specs_list: list,
        base_anchor_size: torch.Tensor | None = None,
        anchor_strides: list | None = None,
        anchor_offsets: list | None = None,
        clip_window: torch.Tensor | None = None,
    ) -> None:
        if not (
            isinstance(box_specs_list, list)
            and all(isinstance(item, list) for item in box_specs_list)
        ):
            raise ValueError("box_specs_list is expected to be a list of lists of pairs")
        self._box_specs = box_specs_list
        if base_anchor_size is None:
            base_anchor_size = torch.tensor([256, 256], dtype=torch.float32)
        self._base_anchor_size = base_anchor_size
        self._anchor_strides = anchor_strides
        self._anchor_offsets = anchor_offsets
        if clip_window is not None and list(clip_window.shape) != [4]:
            raise ValueError("clip_window must either be None or a shape [4] tensor")
        self._clip_window = clip_window
        self._scales = []
        self._aspect_ratios = []
        for box_spec in self._box_specs:
            if not all(isinstance(entry, tuple) and len(entry) == 2 for entry in box_spec):
                raise ValueError("box_specs_list is expected to be a list of lists of pairs")
            scales, aspect_ratios = zip(*box_spec, strict=False)
            self._scales.append(scales)
            self._aspect_ratios.append(aspect_ratios)
        for arg, arg_name in (
            (anchor_strides, "anchor_strides"),
            (anchor_offsets, "anchor_offsets"),
        ):
            if arg:
                _check_pairs(arg, arg_name, len(self._box_specs))

    def _generate(
        self, feature_map_shape_list: list, im_height: float = 1, im_width: float = 1
    ) -> list[torch.Tensor]:
        """One ``[K_i, 4]`` anchor tensor per grid of ``feature_map_shape_list`` ((h, w) pairs)."""
        if not (
            isinstance(feature_map_shape_list, list)
            and len(feature_map_shape_list) == len(self._box_specs)
        ):
            raise ValueError(
                "feature_map_shape_list must be a list with the same length as self._box_specs"
            )
        if not all(isinstance(item, tuple) and len(item) == 2 for item in feature_map_shape_list):
            raise ValueError("feature_map_shape_list must be a list of pairs.")
        im_height = float(im_height)
        im_width = float(im_width)
        if not self._anchor_strides:
            anchor_strides = [
                (1.0 / float(pair[0]), 1.0 / float(pair[1])) for pair in feature_map_shape_list
            ]
        else:
            anchor_strides = [
                (float(s[0]) / im_height, float(s[1]) / im_width) for s in self._anchor_strides
            ]
        if not self._anchor_offsets:
            anchor_offsets = [(0.5 * s[0], 0.5 * s[1]) for s in anchor_strides]
        else:
            anchor_offsets = [
                (float(o[0]) / im_height, float(o[1]) / im_width) for o in self._anchor_offsets
            ]
        _check_pairs(anchor_strides, "anchor_strides", len(self._box_specs))
        _check_pairs(anchor_offsets, "anchor_offsets", len(self._box_specs))
        if self._clip_window is not None:
            raise NotImplementedError("anchor clipping is not implemented (nor in the reference)")

        min_im_shape = min(im_height, im_width)
        base_anchor_size = [
            min_im_shape / im_height * self._base_anchor_size[0],
            min_im_shape / im_width * self._base_anchor_size[1],
        ]
        return [
            tile_anchors(
                grid_height=grid[0],
                grid_width=grid[1],
                scales=scales,
                aspect_ratios=ratios,
                base_anchor_size=base_anchor_size,
                anchor_stride=stride,
                anchor_offset=offset,
            )
            for grid, scales, ratios, stride, offset in zip(
                feature_map_shape_list,
                self._scales,
                self._aspect_ratios,
                anchor_strides,
                anchor_offsets,
                strict=False,
            )
        ]
