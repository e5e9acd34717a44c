"""``models.base_model_r34`` of the MLPerf reference: the truncated ResNet backbones of SSD-R34.

``ResNet34.layer1`` is torchvision ResNet-34's first six children (conv1, bn1, relu, maxpool,
layer1, layer2) in an ``nn.Sequential``; ``layer2`` is ``layer3`` alone with the stride of its
first block set to 1 (output stride 8, 256 channels). torchvision's classes come from
:mod:`.tv_resnet` (same names and layout, plain torch). The training-only ``Loss``,
``tailor_module`` and ``make_layers`` of the reference module are left out.
"""

from __future__ import annotations

import torch
from torch import nn

from .tv_resnet import resnet18, resnet34


def _ModifyConvStrideDilation(
    conv: nn.Conv2d,
    stride: tuple[int, int] = (1, 1),  # noqa: N802
    padding: tuple[int, int] | None = None,
) -> None:
    conv.stride = stride
    if padding is not None:
        conv.padding = padding


def _ModifyBlock(
    block: nn.Module,
    bottleneck: bool = False,  # noqa: N802
    **kwargs,
) -> None:  # noqa: ANN003
    # stride 1 in every block of the stage (only the first has stride 2 in torchvision)
    for m in list(block.children()):
        _ModifyConvStrideDilation(m.conv2 if bottleneck else m.conv1, **kwargs)
        if m.downsample is not None:
            _ModifyConvStrideDilation(list(m.downsample.children())[0], **kwargs)


class _TruncatedResNet(nn.Module):
    def _build(self, net: nn.Module) -> None:
        children = list(net.children())
        self.layer1 = nn.Sequential(*children[:6])
        self.layer2 = nn.Sequential(*children[6:7])
        _ModifyBlock(list(self.layer2.children())[0], stride=(1, 1))

    def forward(self, data: torch.Tensor) -> list[torch.Tensor]:
        return [self.layer2(self.layer1(data))]


class ResNet18(_TruncatedResNet):
    """ResNet-18 up to its conv4 stage (stride 1), random weights."""

    def __init__(self) -> None:
        super().__init__()
        self._build(resnet18())


class ResNet34(_TruncatedResNet):
    """ResNet-34 up to its conv4 stage (stride 1), random weights."""

    def __init__(self) -> None:
        super().__init__()
        self._build(resnet34())


class L2Norm(nn.Module):
    """Channel-wise L2 normalization with a learnable per-channel ``scale``."""

    def __init__(self, scale: float = 20, chan_num: int = 512) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.Tensor([scale] * chan_num).view(1, chan_num, 1, 1))

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        return self.scale * data * data.pow(2).sum(dim=1, keepdim=True).clamp(min=1e-12).rsqrt()
