"""The networks of the reference experiments (plain ``torch.nn`` modules)."""

from __future__ import annotations

from torch import nn

__all__ = ["ACTIVATIONS", "tishby_net", "mnist_mlp", "mnist_cnn", "mnist_vgg", "digits_mlp"]

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
