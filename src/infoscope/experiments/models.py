"""The networks of the reference experiments (plain ``torch.nn`` modules)."""

from __future__ import annotations

from torch import nn

__all__ = ["ACTIVATIONS", "tishby_net", "mnist_mlp", "mnist_cnn", "mnist_vgg", "digits_mlp", "vgg16", "VGG16_CHANNELS"]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def tishby_net(activation: str = "tanh") -> nn.Sequential:
    """Shwartz-Ziv & Tishby's 12-10-7-5-4-3-2 network; the output is a softmax (probabilities).

    Examples
    --------
    >>> [m.out_features for m in tishby_net() if isinstance(m, nn.Linear)]
    [10, 7, 5, 4, 3, 2]
    """
    act = _activation(activation)
    sizes = [12, 10, 7, 5, 4, 3]
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    layers += [nn.Linear(3, 2), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def mnist_mlp(activation: str = "relu") -> nn.Sequential:
    """Wickstrøm et al.'s MLP: 784-1024-20-20-20-10 with batch normalisation; outputs logits."""
    act = _activation(activation)
    sizes = [784, 1024, 20, 20, 20]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), act()]
    layers.append(nn.Linear(20, 10))
    return nn.Sequential(*layers)


def mnist_cnn(activation: str = "relu") -> nn.Sequential:
    """A small CNN: three conv blocks (8, 16, 32 channels, 3×3, max-pool) and one dense layer."""
    act = _activation(activation)
    layers: list[nn.Module] = []
    for c_in, c_out in ((1, 8), (8, 16), (16, 32)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), act(), nn.MaxPool2d(2)]
    layers += [nn.Flatten(), nn.Linear(32 * 3 * 3, 10)]
    return nn.Sequential(*layers)


def mnist_vgg(activation: str = "relu") -> nn.Sequential:
    """A VGG-style CNN scaled to 28×28 MNIST: three blocks of two 3×3 convolutions (16, 32, 64
    channels) each followed by max-pooling, then one dense layer (Wickstrøm et al.'s VGG16 on
    CIFAR-10, scaled down to CPU size)."""
    act = _activation(activation)
    layers: list[nn.Module] = []
    c_in = 1
    for c in (16, 32, 64):
        layers += [nn.Conv2d(c_in, c, 3, padding=1), act(), nn.Conv2d(c, c, 3, padding=1), act(), nn.MaxPool2d(2)]
        c_in = c
    layers += [nn.Flatten(), nn.Linear(64 * 3 * 3, 10)]
    return nn.Sequential(*layers)


def digits_mlp(activation: str = "relu") -> nn.Sequential:
    """A quick 64-32-16-10 MLP for scikit-learn's 8×8 digits; outputs logits."""
    act = _activation(activation)
    return nn.Sequential(nn.Linear(64, 32), act(), nn.Linear(32, 16), act(), nn.Linear(16, 10))


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
    layers: list[nn.Module] = []
    c_in = in_channels
    for c in VGG16_CHANNELS:
        if c == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), act()]
        c_in = c
    layers += [nn.Flatten(), nn.Linear(c_in, dense), act(), nn.Dropout(dropout), nn.Linear(dense, dense), act(),
               nn.Dropout(dropout), nn.Linear(dense, num_classes)]
    return nn.Sequential(*layers)
