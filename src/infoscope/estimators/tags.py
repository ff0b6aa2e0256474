"""What each estimator is, kept on the estimator class (as scikit-learn keeps its estimator tags):
the code that budgets memory, schedules layers and units, flags saturated values, calibrates,
draws and reads stored values asks these facts and never compares estimator names."""

from __future__ import annotations

import dataclasses

__all__ = ["EstimatorTags", "SATURATION_RULES", "UNKNOWN", "POOLINGS"]

#: How a conv unit's H×W map is presented (:func:`~.units.unit_view`; ``EstimatorTags.unit_pooling``).
POOLINGS = ("map", "mean", "max")

#: How an estimator's saturated values are found: ``"bounds"``: T is judged by H(T) at log2 n
#: or 0, and all three values of T carry that flag; ``"zero"``: each value at 0 is flagged;
#: ``"none"``: nothing is flagged.
SATURATION_RULES = ("bounds", "zero", "none")


@dataclasses.dataclass(frozen=True)
class EstimatorTags:
    """Facts about an estimator family.

    Attributes
    ----------
    shannon : bool
        Its values estimate Shannon information, so an error against a known Shannon MI means
        something (matrix-based Rényi does not).
    bounded : bool
        H(T) and I(X;T) lie in [0, log2 N] (plug-in, kernel-mixture and matrix entropies); not
        for differential entropies (KSG).
    continuous : bool
        Meaningful on continuous values (Discrete counts distinct patterns: for quantised
        activations only).
    saturation : {"bounds", "zero", "none"}
        How its saturated values are flagged (:data:`SATURATION_RULES`).
    square_matrices : int
        N×N float64 matrices alive at once while the values of one sample set (a layer, a unit,
        a chunk) are estimated: the memory budget's figure.
    probe_matrices : int
        N×N float64 matrices the probe's own precomputation holds (the input and label Grams of
        matrix Rényi), charged once per probe.
    sample_copies : int
        float64 copies of the N×D samples alive at once.
    input_copies : int
        float64 copies of the N×D_X network input alive at once (estimators that use the input's
        values).
    resolution : str or None
        What its values rest on, as an axis label (``"kernel width σ"``, ``"bin width"``,
        ``"noise s.d."``); None when adaptive (k-NN) or absent.
    resolution_short : str
        The same in a few characters, for hover texts.
    unit_pooling : {"map", "mean", "max"}
        How a conv unit's H×W map is presented unless the user says otherwise.
    batches_layers : bool
        :meth:`~.base.Estimator.layers_information` computes several layers of one probe in one
        batched computation (so a recorder hands it all layers at once).
    batches_units : bool
        :meth:`~.base.Estimator.units_information` computes a layer's units together.
    token_inputs : bool
        It can measure I(X;T) when X is token ids: X as which probe sample, or a kernel for
        sequences (matrix Rényi's Hamming kernel); False for KSG, whose distances between id
        numbers would mean nothing.
    continuous_targets : bool
        Its I(T;Y) can take a continuous target y (regression): matrix Rényi (an RBF kernel on
        y) and KSG; not the estimators whose I(T;Y) counts classes.
    per_unit : bool
        Cheap enough to measure every unit of a layer by default; False for the neural
        estimator (a critic trained per value), which then measures whole layers only unless
        ``unit_estimators`` names it.
    entropy : bool
        It estimates H(T) as well as MI; False for variational bounds, whose layer values are
        I(X;T) and I(T;Y) only.
    """

    shannon: bool = True
    bounded: bool = True
    continuous: bool = True
    saturation: str = "bounds"
    square_matrices: int = 0
    probe_matrices: int = 0
    sample_copies: int = 2
    input_copies: int = 0
    resolution: str | None = None
    resolution_short: str = ""
    unit_pooling: str = "map"
    batches_layers: bool = False
    batches_units: bool = False
    token_inputs: bool = True
    continuous_targets: bool = False
    per_unit: bool = True
    entropy: bool = True

    def __post_init__(self) -> None:
        if self.saturation not in SATURATION_RULES:
            raise ValueError(f"saturation must be one of {SATURATION_RULES}, got {self.saturation!r}")


#: The tags of a stored estimator name that this infoscope does not know: nothing is assumed.
UNKNOWN = EstimatorTags(shannon=False, bounded=False, saturation="none", sample_copies=2)
