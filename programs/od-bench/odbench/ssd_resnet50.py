"""SSD-ResNet50 of the MLPerf Automotive 2D detection benchmark, built so that the real
checkpoint ``baseline_8MP_ss_scales_fm1_5x5_all_ep60.pth`` (a state dict) loads strictly.

The module tree (and so every state-dict key and tensor shape) follows the reference
``SSD(config, backbone=ResNet(config), num_classes=15)`` of ``mlcommons/abtf-ssd-pytorch``
``src/model.py``, which ``automotive/2d-object-detection/backend_deploy.py`` of
``mlcommons/mlperf_automotive`` imports (reference §6.3):

* ``feature_extractor.feature_extractor.{0,1,4,5,6}`` — torchvision ResNet-50 ``children()[:7]``
  in an ``nn.Sequential`` (0 conv1, 1 bn1, 2 relu, 3 maxpool, 4 layer1, 5 layer2, 6 layer3),
  written here in plain torch with torchvision's names inside the stages (``0.conv1``,
  ``0.bn3``, ``0.downsample.0``...); the config's ``backbone`` entry sets layer3 block 0 to
  stride 1 (output stride 8);
* ``additional_blocks.{i}.{0,1,3,4}`` — 6 extra blocks ``Conv1x1 BN ReLU Conv3x3/s2 BN ReLU``
  (convs without bias);
* ``loc.{i}`` / ``conf.{i}`` — 5x5 heads with bias.

``forward`` returns ``(ploc [N, 4, B], plabel [N, num_classes, B])`` with boxes ordered per level,
default-box size, row, column — the layout :class:`odbench.dataset_cognata.SSDDecoder` decodes.
torch is imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import NotFoundError, RunError, UsageError, missing_module

# The model parts of config/baseline_8MP_ss_scales_fm1_5x5_all.py the network needs (the
# default-box parts live in dataset_cognata.BASELINE_8MP).
BASELINE_8MP_MODEL: dict[str, Any] = {
    "name": "baseline_8MP_ss_scales_fm1_5x5_all",
    "image_size": [2160, 3840],
    "num_classes": 15,  # len(cognata_labels.label_map), background included
    "feature_out_channels": [1024, 512, 512, 256, 256, 256, 256],
    # layer3 block 0: conv1 1x1/s1/p0, conv2 3x3/s1/p1, downsample stride 1
    "backbone_layer3_stride": 1,
    # middle_blocks: kernel (1, 3), padding (0, 1), stride (1, 2) for all six blocks
    "middle_blocks": [{"kernel_size": (1, 3), "padding": (0, 1), "stride": (1, 2)}] * 6,
    "num_defaults": [4, 6, 6, 6, 4, 4, 4],
    "head_kernel_size": 5,
    "head_padding": 2,
}
MODEL_CONFIGS: dict[str, dict[str, Any]] = {BASELINE_8MP_MODEL["name"]: BASELINE_8MP_MODEL}

# ResNet-50: (blocks, bottleneck width) of layer1..layer3; layer4 is not part of the backbone.
_RESNET50_STAGES = ((3, 64), (4, 128), (6, 256))
_EXPANSION = 4

# Keys a training checkpoint may wrap the model state dict in (reference: "model_state_dict").
_WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise missing_module("torch", exc) from exc
    return torch


def model_config(name: str | None = None) -> dict[str, Any]:
    """The model config ``name`` (default: ``baseline_8MP_ss_scales_fm1_5x5_all``)."""
    key = name or BASELINE_8MP_MODEL["name"]
    if key not in MODEL_CONFIGS:
        raise NotFoundError(
            f"unknown SSD-ResNet50 model config '{key}'",
            hint="use one of: " + ", ".join(MODEL_CONFIGS),
        )
    return dict(MODEL_CONFIGS[key])


def _build_classes() -> dict[str, type]:
    """Define the nn.Module classes on first use (torch is imported lazily)."""
    torch = _torch()
    backbone = _backbone_class(torch.nn)
    return {"SSDResNet50": _ssd_class(torch, backbone), "ResNetBackbone": backbone}


def _bottleneck_class(nn: Any) -> type:
    class Bottleneck(nn.Module):
        """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 conv."""

        def __init__(self, inplanes: int, width: int, stride: int, downsample: Any) -> None:
            super().__init__()
            out = width * _EXPANSION
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + identity)

    return Bottleneck


def _backbone_class(nn: Any) -> type:
    bottleneck = _bottleneck_class(nn)

    def make_stage(inplanes: int, width: int, blocks: int, stride: int) -> Any:
        out = width * _EXPANSION
        down = None
        if stride != 1 or inplanes != out:
            # torchvision names it downsample.0 (conv) / downsample.1 (bn)
            down = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )
        layers = [bottleneck(inplanes, width, stride, down)]
        layers += [bottleneck(out, width, 1, None) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    class ResNetBackbone(nn.Module):
        """ResNet-50 up to layer3 as ``feature_extractor`` (an ``nn.Sequential`` of 7)."""

        def __init__(self, cfg: Mapping[str, Any]) -> None:
            super().__init__()
            self.out_channels = list(cfg["feature_out_channels"])
            strides = (1, 2, int(cfg.get("backbone_layer3_stride", 1)))
            stages, inplanes = [], 64
            for (blocks, width), stride in zip(_RESNET50_STAGES, strides, strict=True):
                stages.append(make_stage(inplanes, width, blocks, stride))
                inplanes = width * _EXPANSION
            self.feature_extractor = nn.Sequential(
                nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),  # 0: conv1
                nn.BatchNorm2d(64),  # 1: bn1
                nn.ReLU(inplace=True),  # 2: relu
                nn.MaxPool2d(3, stride=2, padding=1),  # 3: maxpool
                *stages,  # 4, 5, 6: layer1..layer3
            )

        def forward(self, x: Any) -> Any:
            return self.feature_extractor(x)

    return ResNetBackbone


def _middle_blocks(nn: Any, cfg: Mapping[str, Any], chans: list[int]) -> Any:
    """The 6 extra blocks ``Conv1x1 BN ReLU Conv3x3/s2 BN ReLU``. Reference quirk: the mid
    channels are feature_out_channels[i] (not the config's feature_in_channels), because
    model.py tests for feature_in_channels but reads feature_out_channels."""
    blocks = []
    for i, mb in enumerate(cfg["middle_blocks"][: len(chans) - 1]):
        cin, mid, cout = chans[i], chans[i], chans[i + 1]
        k, p, s = mb["kernel_size"], mb["padding"], mb["stride"]
        blocks.append(
            nn.Sequential(
                nn.Conv2d(cin, mid, k[0], stride=s[0], padding=p[0], bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, k[1], stride=s[1], padding=p[1], bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            )
        )
    return nn.ModuleList(blocks)


def _ssd_class(torch: Any, backbone: type) -> type:
    nn = torch.nn

    class SSDResNet50(nn.Module):
        """SSD head on the ResNet-50 backbone; returns ``(ploc, plabel)``."""

        def __init__(self, cfg: Mapping[str, Any]) -> None:
            super().__init__()
            self.num_classes = int(cfg["num_classes"])
            self.feature_extractor = backbone(cfg)
            chans = self.feature_extractor.out_channels
            self.additional_blocks = _middle_blocks(nn, cfg, chans)
            k, p = int(cfg["head_kernel_size"]), int(cfg["head_padding"])
            nds = cfg["num_defaults"]
            self.loc = nn.ModuleList(
                nn.Conv2d(c, nd * 4, k, padding=p) for nd, c in zip(nds, chans, strict=True)
            )
            self.conf = nn.ModuleList(
                nn.Conv2d(c, nd * self.num_classes, k, padding=p)
                for nd, c in zip(nds, chans, strict=True)
            )

        def forward(self, x: Any) -> tuple[Any, Any]:
            x = self.feature_extractor(x)
            feats = [x]
            for block in self.additional_blocks:
                x = block(x)
                feats.append(x)
            n = x.shape[0]
            # view(N, 4, -1) of (N, nd*4, H, W): box index = default * H * W + row * W + col
            locs = [head(f).reshape(n, 4, -1) for f, head in zip(feats, self.loc, strict=True)]
            confs = [
                head(f).reshape(n, self.num_classes, -1)
                for f, head in zip(feats, self.conf, strict=True)
            ]
            return torch.cat(locs, 2).contiguous(), torch.cat(confs, 2).contiguous()

    return SSDResNet50


_CLASSES: dict[str, type] = {}


def _classes() -> dict[str, type]:
    if not _CLASSES:
        _CLASSES.update(_build_classes())
    return _CLASSES


def build_from_config(name: str | None = None) -> Any:
    """A randomly initialised SSD-ResNet50 for the model config ``name`` (eval mode)."""
    model = _classes()["SSDResNet50"](model_config(name))
    model.eval()
    return model


def _extract_state_dict(obj: Mapping[str, Any], path: str, strict: bool = True) -> Any:
    """The tensor mapping inside ``obj`` (itself, or under a wrapper key)."""
    torch = _torch()
    for key in _WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner:
            obj = inner
            break
    if (
        obj
        and all(isinstance(k, str) for k in obj)
        and all(isinstance(v, torch.Tensor) for v in obj.values())
    ):
        # a DistributedDataParallel state dict has every key under "module."
        if all(k.startswith("module.") for k in obj):
            return {k[len("module.") :]: v for k, v in obj.items()}
        return obj
    if strict:
        raise UsageError(
            f"'{path}' is a dict but holds no state dict (top-level keys: {sorted(obj)[:10]})",
            hint="expected a state dict or a checkpoint with a 'model_state_dict', "
            "'state_dict' or 'model' entry",
        )
    return None


def _check_keys(model: Any, state: Mapping[str, Any], path: str) -> None:
    """Strict key and shape match, with every difference named."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    if wrong:
        parts.append(f"shape mismatches ({len(wrong)}): {'; '.join(wrong)}")
    raise UsageError(
        f"state dict '{path}' does not match the SSD-ResNet50 model: " + "; ".join(parts),
        hint="od-bench expects the MLPerf Automotive checkpoint "
        "baseline_8MP_ss_scales_fm1_5x5_all_ep60.pth (or one of the same architecture)",
    )


def model_from_state_dict(
    obj: Mapping[str, Any],
    path: str = "<state dict>",
    device: str = "cpu",
    config: str | None = None,
) -> Any:
    """Build the model for ``config`` and load ``obj`` (state dict or checkpoint dict) strictly."""
    state = _extract_state_dict(obj, path)
    model = build_from_config(config)
    _check_keys(model, state, path)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def load_checkpoint(path: str, device: str = "cpu", config: str | None = None) -> Any:
    """Load ``path`` (a state dict, or a dict with ``model_state_dict``/``state_dict``/``model``)
    into a new SSD-ResNet50 in eval mode on ``device``."""
    torch = _torch()
    if not os.path.isfile(path):
        raise NotFoundError(f"checkpoint '{path}' not found", hint="check --model / --checkpoint")
    try:
        # weights_only=False as the reference (torch <= 2.3 default): the training checkpoint
        # also pickles the optimizer and MultiStepLR state (a collections.Counter)
        obj = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:
        raise RunError(f"torch cannot load '{path}': {exc}") from exc
    if not isinstance(obj, Mapping):
        raise UsageError(
            f"'{path}' holds a {type(obj).__name__}, not a state dict",
            hint="pass a state-dict checkpoint",
        )
    return model_from_state_dict(obj, path, device, config)


def output_shapes(
    batch: int, config: str | None = None, feat_sizes: Sequence[Sequence[int]] | None = None
) -> tuple[tuple, tuple]:
    """Expected ``(ploc, plabel)`` shapes for ``batch`` images given the per-level feature sizes
    (default: those of the 8 MP config, from ``dataset_cognata``)."""
    cfg = model_config(config)
    if feat_sizes is None:
        from .dataset_cognata import BASELINE_8MP

        feat_sizes = BASELINE_8MP["feat_size"]
    boxes = sum(nd * h * w for nd, (h, w) in zip(cfg["num_defaults"], feat_sizes, strict=True))
    return (batch, 4, boxes), (batch, int(cfg["num_classes"]), boxes)
