"""Integrations with training frameworks: Lightning and the Hugging Face Trainer (optional extras),
TensorBoard export, and torch.distributed; and the names their loggers show (:func:`logged_values`).

``torch.distributed`` needs nothing extra: :class:`~infoscope.recorder.Recorder` detects an
initialised process group and records across ranks (see its ``distributed`` parameter).
"""

from __future__ import annotations

__all__ = ["logged_values"]


def logged_values(summary: dict[tuple[str, str, str, str], float]) -> dict[str, float]:
    """A record's whole-layer values (:meth:`~infoscope.recorder.Recorder.record`) under the
    names the training frameworks' loggers show: ``infoscope/<probe>/<layer>/<quantity>/<estimator>``.

    Examples
    --------
    >>> logged_values({("train", "fc1", "I(X;T)", "renyi"): 2.5})
    {'infoscope/train/fc1/I(X;T)/renyi': 2.5}
    """
    return {f"infoscope/{p}/{layer}/{q}/{e}": v for (p, layer, q, e), v in summary.items()}
