"""The named choices of recording options, in one light module (no torch), so that options
can be declared, checked and shown by the command line's help before anything heavy loads.
Each is documented where it is used."""

from __future__ import annotations

from .estimators.tags import POOLINGS

__all__ = ["POOLINGS", "TOKEN_POOLINGS", "INPUT_REPRESENTATIONS"]

#: How the tokens of a sequence layer enter (:mod:`~infoscope.layouts`).
TOKEN_POOLINGS = ("all", "mean", "first")

#: How X enters the estimators that use its values (:func:`~infoscope.inputs.input_representation`):
#: ``"auto"``: token ids (int32/int64) as tokens, anything else as values;
#: ``"values"``: the input's own values (refused for token ids);
#: ``"tokens"``: token ids, padding left out (matrix Rényi's Hamming kernel);
#: ``"embedding"``: the output of the model's input embedding, captured once when recording starts.
INPUT_REPRESENTATIONS = ("auto", "values", "tokens", "embedding")
