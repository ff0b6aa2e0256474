"""The reference experiments, defined as data: model, dataset, optimiser, schedule, what to record."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..datasets import Dataset, cifar_or_synthetic, load_digits, load_mnist_subset, load_tishby, majority_tokens
from ..estimators import Binning, Discrete, Estimator, MatrixRenyi
from ..inputs import as_inputs, take
from ..measurement import Probe
from ..options import RecordingOptions
from . import models, transformer_models

__all__ = ["Experiment", "EXPERIMENTS", "get_experiment", "make_probes"]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One reference experiment.

    Attributes
    ----------
    name, description : str
    dataset : callable
        ``dataset(seed, data) -> Dataset``; ``data`` is where the user keeps the data set
        (``--data``), ``"synthetic"``, or None (only the CIFAR experiments read it).
    model : callable
        ``model(activation) -> nn.Module``.
    activation : str
        Default activation (``--activation`` overrides).
    optimizer : str
        ``"sgd"`` or ``"adam"``; ``lr``, ``momentum`` its settings.
    batch_size, epochs : int
    probe_size : int
        Probe samples per probe set (train and held-out).
    estimators : callable
        ``estimators(activation) -> list[Estimator]``: the default estimators.
    output : str
        ``"logits"`` (cross-entropy) or ``"probs"`` (the model ends in a softmax).
    unit_every : int
        Per-unit values every this many epochs (and at the last one); layers every epoch.
    layers : "auto", "blocks" or tuple of str
        The layers recorded unless told otherwise.
    """

    name: str
    description: str
    dataset: Callable[..., Dataset]
    model: Callable[[str], nn.Module]
    activation: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    probe_size: int
    estimators: Callable[[str], list[Estimator]]
    momentum: float = 0.0
    output: str = "logits"
    unit_every: int = 1
    layers: str | tuple[str, ...] = "auto"

    def config(self) -> dict[str, Any]:
        """Plain description stored with every run."""
        keep = ("name", "activation", "optimizer", "lr", "momentum", "batch_size", "epochs", "probe_size", "output", "unit_every")
        return {k: getattr(self, k) for k in keep}

    def recording(self, activation: str) -> RecordingOptions:
        """What a run of this experiment records unless told otherwise: its estimators, every
        layer each epoch, per-unit values on the train probe every ``unit_every`` epochs."""
        return RecordingOptions(layers=self.layers if isinstance(self.layers, str) else list(self.layers),
                                estimators=self.estimators(activation), unit_every=self.unit_every, unit_probes=["train"])


def make_probes(data: Dataset, size: int, seed: int, whole: bool = False) -> list[Probe]:
    """The train and held-out probes of an experiment run: ``size`` samples of each split
    (all if fewer), drawn with ``seed`` and ``seed + 1``, in data order; with ``whole``, also
    the probe ``"all"``: every sample of the data set, training and held-out."""

    def draw(x: Any, y: np.ndarray, seed: int, name: str) -> Probe:
        idx = np.random.default_rng(seed).permutation(len(y))[: min(size, len(y))]
        idx.sort()
        return Probe(take(as_inputs(x), torch.from_numpy(idx)), torch.from_numpy(y[idx]), name=name)

    probes = [draw(data.x_train, data.y_train, seed, "train"), draw(data.x_test, data.y_test, seed + 1, "test")]
    if whole:
        x_all = ({k: np.concatenate([data.x_train[k], data.x_test[k]]) for k in data.x_train} if isinstance(data.x_train, dict)
                 else np.concatenate([data.x_train, data.x_test]))
        probes.append(Probe(as_inputs(x_all), torch.from_numpy(np.concatenate([data.y_train, data.y_test])), name="all"))
    return probes


def _tishby_estimators(activation: str) -> list[Estimator]:
    # the paper bins tanh layers on [-1, 1]; ReLU layers on their own range (Saxe et al.)
    return [Binning(n_bins=30, value_range=(-1.0, 1.0) if activation == "tanh" else None)]


# The MNIST experiments estimate matrix-based Rényi MI on chunks of 100 probe samples and average
# (MatrixRenyi(chunk_size=100)), as Wickstrøm et al. do on minibatches of N = 100: the cost per
# layer falls from O(N³) to O(N·100²), which is what keeps recording on during training.
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            name="tishby",
            description="12-10-7-5-4-3-2 on the 12-bit task (Shwartz-Ziv & Tishby), binning",
            dataset=lambda seed, data=None: load_tishby(seed=seed),
            model=models.tishby_net,
            activation="tanh",
            optimizer="adam",
            lr=4e-3,
            batch_size=256,
            epochs=200,
            probe_size=3482,  # all of the 12-bit task: 3,482 training and 614 held-out patterns
            estimators=_tishby_estimators,
            output="probs",
        ),
        Experiment(
            name="tishby-quantized",
            description="the 12-bit task's network with 8-bit quantised activations (Lorenzen et al.): exact MI",
            dataset=lambda seed, data=None: load_tishby(seed=seed),
            model=models.tishby_quantized,
            activation="tanh",
            optimizer="adam",
            lr=4e-3,
            batch_size=256,
            epochs=200,
            probe_size=3482,
            estimators=lambda act: [Discrete()],
            output="probs",
            layers=("quant1", "quant2", "quant3", "quant4", "quant5"),
        ),
        Experiment(
            name="mnist-mlp",
            description="784-1024-20-20-20-10 MLP with batch norm (Wickstrøm et al.) on 8,000/2,000 MNIST",
            dataset=lambda seed, data=None: load_mnist_subset(8000, 2000, seed=seed),
            model=models.mnist_mlp,
            activation="relu",
            optimizer="sgd",
            lr=0.05,
            momentum=0.9,
            batch_size=100,
            epochs=20,
            probe_size=500,
            estimators=lambda act: [MatrixRenyi(sigma_x="alignment", sigma_input=8.0 / 2**0.5, chunk_size=100)],
        ),
        Experiment(
            name="mnist-cnn",
            description="3 conv blocks (8/16/32 channels) + dense on 8,000/2,000 MNIST; every channel a unit",
            dataset=lambda seed, data=None: load_mnist_subset(8000, 2000, seed=seed),
            model=models.mnist_cnn,
            activation="relu",
            optimizer="adam",
            lr=1e-3,
            batch_size=100,
            epochs=10,
            probe_size=300,
            estimators=lambda act: [MatrixRenyi(sigma_x="silverman", sigma_input=8.0 / 2**0.5, chunk_size=100)],
            unit_every=5,
        ),
        Experiment(
            name="mnist-vgg",
            description="VGG-style CNN (2×16, 2×32, 2×64 conv, pooling, dense) on 8,000/2,000 MNIST",
            dataset=lambda seed, data=None: load_mnist_subset(8000, 2000, seed=seed),
            model=models.mnist_vgg,
            activation="relu",
            optimizer="adam",
            lr=1e-3,
            batch_size=100,
            epochs=10,
            probe_size=200,
            estimators=lambda act: [MatrixRenyi(sigma_x="alignment", sigma_input=8.0 / 2**0.5, chunk_size=100)],
            unit_every=5,
        ),
        Experiment(
            name="digits-mlp",
            description="64-32-16-10 MLP on scikit-learn's 8x8 digits (quick)",
            dataset=lambda seed, data=None: load_digits(seed=seed),
            model=models.digits_mlp,
            activation="relu",
            optimizer="adam",
            lr=2e-3,
            batch_size=32,
            epochs=20,
            probe_size=400,
            estimators=lambda act: [MatrixRenyi(sigma_x="silverman")],
        ),
        # CIFAR-size networks: the real CIFAR-10 when --data (or INFOSCOPE_DATA) gives it, else
        # synthetic CIFAR-shaped data (5,000 / 1,000 images), whose name the run stores
        Experiment(
            name="cifar-vgg16",
            description="Wickstrøm et al.'s VGG16 with batch norm on CIFAR-10 (13 conv, 2×4096 dense with dropout; 16 layers)",
            dataset=lambda seed, data=None: cifar_or_synthetic(data, 10, seed),
            model=models.vgg16,
            activation="relu",
            optimizer="sgd",
            lr=0.09,
            batch_size=100,
            epochs=10,
            probe_size=1000,
            estimators=lambda act: [MatrixRenyi(sigma_x="alignment", chunk_size=100)],
            unit_every=5,
        ),
        Experiment(
            name="cifar-resnet18",
            description="ResNet-18 on CIFAR-10: every call of each block's shared ReLU is a layer (18 layers)",
            dataset=lambda seed, data=None: cifar_or_synthetic(data, 10, seed),
            model=models.resnet18,
            activation="relu",
            optimizer="sgd",
            lr=0.05,
            momentum=0.9,
            batch_size=128,
            epochs=10,
            probe_size=1000,
            estimators=lambda act: [MatrixRenyi(sigma_x="alignment", chunk_size=100)],
            unit_every=5,
        ),
        # Transformers (Hugging Face classes; `pip install 'infoscope[transformers]'`): every block's
        # output is a layer of (N, tokens, hidden) whose units are its hidden features
        Experiment(
            name="mnist-vit",
            description="a small ViT (7×7 patches as 16 tokens + class token, 4 blocks, hidden 64) on 8,000/2,000 MNIST",
            dataset=lambda seed, data=None: load_mnist_subset(8000, 2000, seed=seed),
            model=transformer_models.mnist_vit,
            activation="gelu",
            optimizer="adam",
            lr=1e-3,
            batch_size=100,
            epochs=8,
            probe_size=500,
            estimators=lambda act: [MatrixRenyi(sigma_x="silverman", sigma_input=8.0 / 2**0.5, chunk_size=100)],
            unit_every=4,
            layers="blocks",
        ),
        Experiment(
            name="seq-bert",
            description="a small BERT (2 blocks, hidden 32) on a synthetic token task: is the majority of tokens from the "
                        "upper half of the ids (5–15 tokens, padded)",
            dataset=lambda seed, data=None: majority_tokens(4000, 1000, seed=seed),
            model=transformer_models.seq_bert,
            activation="gelu",
            optimizer="adam",
            lr=1e-4,
            batch_size=50,
            epochs=12,
            probe_size=500,
            estimators=lambda act: [MatrixRenyi(sigma_x="silverman", chunk_size=100)],
            unit_every=5,
            layers="blocks",
        ),
    )
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``, or a ``ValueError`` listing the known ones."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]
