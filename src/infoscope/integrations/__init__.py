"""Integrations with training frameworks: Lightning (optional extra) and torch.distributed.

``torch.distributed`` needs nothing extra: :class:`~infoscope.recorder.Recorder` detects an
initialised process group and records across ranks (see its ``distributed`` parameter).
"""
