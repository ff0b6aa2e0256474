"""The networks of the reference experiments (plain ``torch.nn`` modules).

Layers have names a person reads (``conv2``, ``relu2``, ``fc``), not Sequential indices: they
are what plots, reports and warnings show.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS", "tishby_net", "mnist_mlp", "mnist_cnn", "mnist_vgg", "digits_mlp", "vgg16", "VGG16_CHANNELS",
    "BasicBlock", "resnet18", "Quantize", "tishby_quantized",
]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _named(layers: list[tuple[str, nn.Module]]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


def tishby_net(activation: str = "tanh") -> nn.Sequential:
    """Shwartz-Ziv & Tishby's 12-10-7-5-4-3-2 network; the output is a softmax (probabilities).

    Examples
    --------
    >>> [n for n, _ in tishby_net().named_children()][:4]
    ['fc1', 'tanh1', 'fc2', 'tanh2']
    >>> [m.out_features for m in tishby_net() if isinstance(m, nn.Linear)]
    [10, 7, 5, 4, 3, 2]
    """
    act = _activation(activation)
    sizes = [12, 10, 7, 5, 4, 3]
    layers: list[tuple[str, nn.Module]] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
        layers += [(f"fc{i}", nn.Linear(a, b)), (f"{activation}{i}", act())]
    layers += [("fc6", nn.Linear(3, 2)), ("softmax", nn.Softmax(dim=1))]
    return _named(layers)


class Quantize(nn.Module):
    """Round values in [−1, 1] to 2^bits equally spaced levels (−1 and 1 included); gradients
    pass straight through (quantisation-aware training, Lorenzen et al. 2022). Its outputs are
    discrete, so their entropies over a data set are exact counts."""

    def __init__(self, bits: int = 8):
        super().__init__()
        self.levels = 2**bits - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(-1.0, 1.0)
        q = torch.round((x + 1.0) * (self.levels / 2.0)) * (2.0 / self.levels) - 1.0
        return x + (q - x).detach()


def tishby_quantized(activation: str = "tanh", bits: int = 8) -> nn.Sequential:
    """The 12-10-7-5-4-3-2 network with every hidden activation quantised to ``bits`` bits
    (``quant1`` … ``quant5``, after ``tanh1`` … ``tanh5``); the output is a softmax.

    Examples
    --------
    >>> q = tishby_quantized().quant1(torch.linspace(-1, 1, 1000))
    >>> len(torch.unique(q)) <= 256, bool(torch.allclose((q + 1) * 127.5, ((q + 1) * 127.5).round(), atol=1e-4))
    (True, True)
    """
    act = _activation(activation)
    sizes = [12, 10, 7, 5, 4, 3]
    layers: list[tuple[str, nn.Module]] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
        layers += [(f"fc{i}", nn.Linear(a, b)), (f"{activation}{i}", act()), (f"quant{i}", Quantize(bits))]
    layers += [("fc6", nn.Linear(3, 2)), ("softmax", nn.Softmax(dim=1))]
    return _named(layers)


def mnist_mlp(activation: str = "relu") -> nn.Sequential:
    """Wickstrøm et al.'s MLP: 784-1024-20-20-20-10 with batch normalisation; outputs logits."""
    act = _activation(activation)
    sizes = [784, 1024, 20, 20, 20]
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
        layers += [(f"fc{i}", nn.Linear(a, b)), (f"bn{i}", nn.BatchNorm1d(b)), (f"{activation}{i}", act())]
    layers.append(("fc5", nn.Linear(20, 10)))
    return _named(layers)


def mnist_cnn(activation: str = "relu") -> nn.Sequential:
    """A small CNN: three conv blocks (8, 16, 32 channels, 3×3, max-pool) and one dense layer."""
    act = _activation(activation)
    layers: list[tuple[str, nn.Module]] = []
    for i, (c_in, c_out) in enumerate(((1, 8), (8, 16), (16, 32)), start=1):
        layers += [(f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=1)), (f"{activation}{i}", act()), (f"pool{i}", nn.MaxPool2d(2))]
    layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(32 * 3 * 3, 10))]
    return _named(layers)


def mnist_vgg(activation: str = "relu") -> nn.Sequential:
    """A VGG-style CNN scaled to 28×28 MNIST: three blocks of two 3×3 convolutions (16, 32, 64
    channels) each followed by max-pooling, then one dense layer (Wickstrøm et al.'s VGG16 on
    CIFAR-10, scaled down to CPU size)."""
    act = _activation(activation)
    layers: list[tuple[str, nn.Module]] = []
    c_in, k = 1, 0
    for block, c in enumerate((16, 32, 64), start=1):
        for _ in range(2):
            k += 1
            layers += [(f"conv{k}", nn.Conv2d(c_in, c, 3, padding=1)), (f"{activation}{k}", act())]
            c_in = c
        layers.append((f"pool{block}", nn.MaxPool2d(2)))
    layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(64 * 3 * 3, 10))]
    return _named(layers)


def digits_mlp(activation: str = "relu") -> nn.Sequential:
    """A quick 64-32-16-10 MLP for scikit-learn's 8×8 digits; outputs logits."""
    act = _activation(activation)
    return _named([("fc1", nn.Linear(64, 32)), (f"{activation}1", act()), ("fc2", nn.Linear(32, 16)),
                   (f"{activation}2", act()), ("fc3", nn.Linear(16, 10))])


#: Output channels of VGG16's 13 convolutions, "M" for 2×2 max-pooling (Simonyan & Zisserman).
VGG16_CHANNELS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(activation: str = "relu", num_classes: int = 10, in_channels: int = 3, dense: int = 4096,
          dropout: float = 0.5) -> nn.Sequential:
    """VGG16 with batch normalisation for 32×32 inputs (CIFAR size), as Wickstrøm et al. train it:
    13 3×3 convolutions (4,224 channels) each with batch norm and the activation, five
    max-poolings down to 512×1×1, two dense layers of ``dense`` units with dropout, and the
    output layer (16 recorded layers under ``layers="auto"``).

    Examples
    --------
    >>> import torch
    >>> m = vgg16()
    >>> m(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> sum(c for c in VGG16_CHANNELS if c != "M")
    4224
    """
    act = _activation(activation)
    layers: list[tuple[str, nn.Module]] = []
    c_in, conv, pool = in_channels, 0, 0
    for c in VGG16_CHANNELS:
        if c == "M":
            pool += 1
            layers.append((f"pool{pool}", nn.MaxPool2d(2)))
            continue
        conv += 1
        layers += [(f"conv{conv}", nn.Conv2d(c_in, c, 3, padding=1)), (f"bn{conv}", nn.BatchNorm2d(c)), (f"{activation}{conv}", act())]
        c_in = c
    layers += [("flatten", nn.Flatten()), ("fc1", nn.Linear(c_in, dense)), (f"{activation}14", act()), ("drop1", nn.Dropout(dropout)),
               ("fc2", nn.Linear(dense, dense)), (f"{activation}15", act()), ("drop2", nn.Dropout(dropout)),
               ("fc3", nn.Linear(dense, num_classes))]
    return _named(layers)


class BasicBlock(nn.Module):
    """A residual block of two 3×3 convolutions with batch norm, as in He et al. (2016) and
    torchvision: one activation module, applied twice per forward pass (after the first
    convolution and after the sum), so under ``layers="auto"`` it gives two layers,
    ``<block>.relu:0`` and ``<block>.relu:1``."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, activation: str = "relu"):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = _activation(activation)()
        self.downsample = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
                           if stride != 1 or c_in != c_out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """A ResNet for 32×32 inputs: a 3×3 stem, four stages of residual blocks, global pooling
    and the output layer."""

    def __init__(self, blocks: tuple[int, ...] = (2, 2, 2, 2), width: int = 64, num_classes: int = 10,
                 in_channels: int = 3, activation: str = "relu"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = _activation(activation)()
        stages, c_in = [], width
        for i, n in enumerate(blocks):
            c_out = width * 2**i
            stages.append(nn.Sequential(*[BasicBlock(c_in if j == 0 else c_out, c_out, 2 if (i > 0 and j == 0) else 1, activation)
                                          for j in range(n)]))
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet18(activation: str = "relu", num_classes: int = 10, width: int = 64) -> ResNet:
    """ResNet-18 for CIFAR-size inputs: 8 basic blocks in 4 stages of ``width`` × 1, 2, 4, 8 channels.

    Examples
    --------
    >>> m = resnet18(width=4)
    >>> m(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """
    return ResNet((2, 2, 2, 2), width, num_classes, activation=activation)
