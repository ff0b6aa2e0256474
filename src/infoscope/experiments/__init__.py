"""Reference experiments (model + data + optimiser + schedule + what to record) and their runner."""

from .registry import EXPERIMENTS, Experiment, get_experiment
from .runner import RunResult, run_experiment

__all__ = ["EXPERIMENTS", "Experiment", "get_experiment", "RunResult", "run_experiment"]
