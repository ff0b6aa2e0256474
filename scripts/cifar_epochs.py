"""What layers="auto" and "blocks" pick on ResNet-18 and VGG16, and the wall time of one epoch of
each CIFAR experiment on synthetic data (``python3 scripts/cifar_epochs.py [device]``)."""

import sys
import tempfile

import torch

from infoscope.capture import resolve_layers, trace_forward
from infoscope.experiments import run_experiment
from infoscope.experiments.models import resnet18, vgg16

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
for name, model in (("resnet18", resnet18()), ("vgg16", vgg16())):
    trace = trace_forward(model, torch.zeros(2, 3, 32, 32))  # as the recorder resolves them
    for mode in ("auto", "blocks"):
        picked = resolve_layers(model, mode, trace)
        print(f"{name} layers={mode!r}: {len(picked)} layers: {', '.join(picked)}", flush=True)
with tempfile.TemporaryDirectory() as d:
    for exp in ("cifar-vgg16", "cifar-resnet18"):
        r = run_experiment(exp, store=f"{d}/r.db", epochs=1, data="synthetic", device=device)
        print(f"{exp} on {device}: one epoch of 5,000 synthetic images with its record (layers and units) "
              f"{r.seconds_per_epoch[0]:.1f} s; whole run {r.seconds:.1f} s; test acc {r.metrics['test_acc']:.3f}", flush=True)
