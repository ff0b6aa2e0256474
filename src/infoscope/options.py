"""What a recording measures and how: one options object for every entry point.

:class:`RecordingOptions` is the single list of the recorder's settings. The
:class:`~infoscope.recorder.Recorder`, :func:`~infoscope.experiments.run_experiment`, the
reproduce studies, ``infoscope run`` and the Lightning callback all pass it through (or
keyword arguments that name its fields), so a setting is declared, defaulted, documented
and checked in one place. Like a scikit-learn estimator it only stores and checks plain
values; the work happens in the recorder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._checks import check_choice, check_interval, check_positive, check_whole
from .choices import INPUT_REPRESENTATIONS, POOLINGS, TOKEN_POOLINGS
from .progress import check_progress

if TYPE_CHECKING:
    from .estimators import Estimator

__all__ = ["RecordingOptions", "POOLINGS", "recording_options"]


@dataclasses.dataclass
class RecordingOptions:
    """The recorder's settings: what is measured, when, and with which uncertainty.

    Parameters
    ----------
    layers : "auto" or sequence of str
        Names from ``model.named_modules()``.
    estimators : sequence of str or Estimator
        Estimators (names use their defaults), e.g. ``["renyi", Binning(n_bins=30)]``.
    units : bool or sequence of str
        Per-unit measurement for every layer (True), none (False) or the named layers.
    max_units : int or None
        Layers with more units than this are measured as a whole only (a note is stored).
    every : "epoch" or int
        ``"epoch"``: every ``record`` call measures; N: only calls whose ``step`` is a
        multiple of N.
    early_every : int, optional
        Also record every ``early_every`` optimisation steps during the first ``early_epochs``
        epochs (a schedule dense early, then ``every``): most change happens in the first
        steps, which once-per-epoch records cannot see.
    early_epochs : int
        How many epochs the dense schedule lasts (default 1).
    unit_every : int
        Per-unit values on every ``unit_every``-th measurement only (epochs that are multiples
        of it under ``every="epoch"``, else measurements whose ``step // every`` is); the
        others measure whole layers only. ``record(..., units=True)`` forces them.
    unit_probes : sequence of str, optional
        Probes on which per-unit values are measured (default: all).
    unit_estimators : sequence of str, optional
        Names of the estimators that measure units (default: those cheap enough per unit, all
        but the neural one, whose ``tags.per_unit`` is False: a neural estimator then measures
        whole layers and the others their units).
    warm_start : bool
        Start each record's neural critics from the previous record's of the same probe,
        layer and quantity (default True; :class:`~infoscope.estimators.NeuralMI`).
    probe_estimators : mapping of str to sequence of str, optional
        Probe name → the names of the estimators that measure it (probes not named: every
        estimator). For example ``{"all": ["discrete"]}``: exact counts over a whole data set,
        where the other estimators would cost too much.
    forward_batch_size : int
        Probe samples per forward pass (not the training minibatch, nor an estimator's
        ``chunk_size``).
    noise_variance : float, optional
        Measure the noise-injected variant T + N(0, noise_variance).
    noise_draws : int
        Noise draws per probe sample for that variant (default 5).
    unit_pooling : {"map", "mean", "max"}, optional
        How conv units are presented (default: each estimator's own, its
        ``tags.unit_pooling``: the whole map for kernel estimators, the spatial mean for
        binning and KSG). A unit of a sequence under ``token_pooling="all"`` is always its
        tokens (a mean would average padding in).
    unit_axis : {1, -1} or mapping of str to {1, -1}, optional
        Where a layer's units are, declared for every layer or per layer: axis 1 (conv
        channels) or the last axis (the D features of a sequence (N, L, D)). Default: read
        from each layer's module (:func:`~infoscope.layouts.infer_layout`), refused where it
        cannot be told.
    heads : mapping of str to int, optional
        Layers whose units are attention heads: layer name → number of heads H; the layer's
        D features split into H heads of D/H features (the output of an attention that
        concatenates its heads, before any output projection: BERT's ``attention.self``).
    token_pooling : {"all", "mean", "first"}
        How the tokens of a sequence layer enter every value: all real tokens (the tensor
        kernel over (L, D)), their mean, or the first (the [CLS] or class token). Padded tokens
        never enter. Stored with each value.
    input_representation : {"auto", "values", "tokens", "embedding"}
        How X enters estimators that use its values (matrix Rényi, KSG): ``"auto"`` reads
        token ids (int32/int64) as tokens (matrix Rényi's Hamming kernel; KSG refuses them)
        and anything else as values; ``"embedding"`` uses the model's input embedding output,
        captured when recording starts (:func:`~infoscope.inputs.input_representation`).
    target : {"classes", "continuous"}
        What the probes' y is: class labels (non-integer values are refused), or a continuous
        target (regression, shape (N,) or (N, K)) whose I(T;Y) matrix Rényi (an RBF kernel on
        y, σ by Silverman's rule unless ``sigma_y`` says) and KSG measure, flagged
        ``y_continuous`` with each value and without an H(Y) bound; the estimators whose
        I(T;Y) counts classes (binning, KDE, discrete) refuse it.
    bootstrap : int
        Number of probe subsamples (without replacement, m = ``bootstrap_fraction`` × N) for
        a 90 % ``"bootstrap"`` band of each layer value (0: none).
    bootstrap_fraction : float
        Subsample size as a fraction of the probe, in [0.1, 1).
    band_every : int
        Bootstrap and chance bands on every ``band_every``-th measurement only (counted as
        ``unit_every`` counts); each band costs ``bootstrap`` or ``chance`` more estimates.
    sensitivity : bool
        Also store, per layer value, the range over the estimator at half and twice its key
        setting (bins, σ, noise variance, k) as a ``"sensitivity"`` band.
    chance : int
        Label permutations for a ``"chance"`` band of each layer's I(T;Y) (0: none); values not
        above its 95th percentile are stored with ``above_chance=False``.
    scale_check : bool
        For estimators whose values change when a layer is multiplied by a constant (KDE, a
        fixed σ, fixed-range bins; :meth:`~infoscope.estimators.Estimator.scale_invariant`),
        also measure each layer brought to unit variance per dimension and store those values
        (``params["at_unit_variance"]``), so a compression verdict can say whether a fall
        survives normalising the layer's scale. One more estimate per such estimator and layer;
        every layer's scale (its RMS pairwise distance, ``params["layer_scale"]``) and whether
        the estimator depends on it (``params["scale_invariant"]``) are stored either way.
    calibrate : bool
        When the run starts, measure every estimator on Gaussian pairs of known MI at each
        layer's N and D (:mod:`~infoscope.calibration`) and store the table with the run.
    sigma_smoothing : float, optional
        For matrix-Rényi estimators with a σ rule: weight w in [0, 1) per optimisation step of
        an exponential moving average of each layer's σ (Wickstrøm et al.: 0.9); records k
        steps apart use w^k (:class:`~infoscope.uncertainty.SigmaSmoother`).
    memory_budget : int, optional
        Bytes one record call may use (default: half the machine's memory).
    progress : {"auto", "rich", "plain", "off"} or callable
        How a measurement that lasts more than 2 s shows its progress (layers done, time
        left): a Rich bar in a terminal and plain lines elsewhere (``"auto"``), either one,
        nothing (``"off"``), or a callable ``(done, total, what)`` (:mod:`~infoscope.progress`).
    on_error : {"warn", "raise"}
        What a failed estimate (e.g. NaN activations) does: store a warning and go on, or raise.
    device : str, optional
        Where activations are kept and estimates computed (e.g. ``"cuda:1"``, or ``"cpu"``
        when GPU memory is short); default: the model's device. Only the numbers come back.

    Examples
    --------
    >>> RecordingOptions(estimators=["binning"], unit_every=5).unit_every
    5
    >>> RecordingOptions(every=0)
    Traceback (most recent call last):
    ...
    ValueError: every must be 'epoch' or a whole number of steps >= 1, got 0
    """

    layers: str | Sequence[str] = "auto"
    estimators: Sequence[str | Estimator] = ("renyi",)
    units: bool | Sequence[str] = True
    max_units: int | None = 256
    every: str | int = "epoch"
    early_every: int | None = None
    early_epochs: int = 1
    unit_every: int = 1
    unit_probes: Sequence[str] | None = None
    unit_estimators: Sequence[str] | None = None
    warm_start: bool = True
    probe_estimators: dict[str, Sequence[str]] | None = None
    forward_batch_size: int = 256
    noise_variance: float | None = None
    noise_draws: int = 5
    unit_pooling: str | None = None
    unit_axis: int | dict[str, int] | None = None
    heads: dict[str, int] | None = None
    token_pooling: str = "all"
    input_representation: str = "auto"
    target: str = "classes"
    bootstrap: int = 0
    bootstrap_fraction: float = 0.8
    band_every: int = 1
    sensitivity: bool = False
    chance: int = 0
    scale_check: bool = True
    calibrate: bool = False
    sigma_smoothing: float | None = None
    memory_budget: int | None = None
    progress: Any = "auto"
    on_error: str = "warn"
    device: str | None = None

    def __post_init__(self) -> None:
        from .estimators import Estimator, make_estimator  # (the estimators load torch: only when options are made)

        if isinstance(self.estimators, (str, Estimator)):
            self.estimators = [self.estimators]
        self.estimators = [make_estimator(e) if isinstance(e, str) else e for e in self.estimators]
        if not self.estimators:
            raise ValueError("estimators is empty; give at least one, e.g. ['renyi']")
        if isinstance(self.unit_probes, str):
            self.unit_probes = [self.unit_probes]
        if self.probe_estimators is not None:
            names = [e.name for e in self.estimators]
            self.probe_estimators = {str(p): [e] if isinstance(e, str) else list(e) for p, e in dict(self.probe_estimators).items()}
            for probe, chosen in self.probe_estimators.items():
                unknown = sorted(set(chosen) - set(names))
                if unknown or not chosen:
                    raise ValueError(f"probe_estimators[{probe!r}] names {unknown or 'no estimator'}; the recorded estimators are: "
                                     f"{', '.join(names)}")
        names = [e.name for e in self.estimators]
        if self.unit_estimators is not None:
            self.unit_estimators = [self.unit_estimators] if isinstance(self.unit_estimators, str) else list(self.unit_estimators)
            unknown = sorted(set(self.unit_estimators) - set(names))
            if unknown:
                raise ValueError(f"unit_estimators names {unknown}; the recorded estimators are: {', '.join(names)}")
        self.warm_start = bool(self.warm_start)
        if self.every != "epoch" and (isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1):
            raise ValueError(f"every must be 'epoch' or a whole number of steps >= 1, got {self.every!r}")
        self.unit_every = check_whole(self.unit_every, "unit_every", 1)
        self.band_every = check_whole(self.band_every, "band_every", 1)
        self.early_every = check_whole(self.early_every, "early_every", 1, none_ok=True)
        self.early_epochs = check_whole(self.early_epochs, "early_epochs", 1)
        self.max_units = check_whole(self.max_units, "max_units", 0, none_ok=True)
        self.memory_budget = check_whole(self.memory_budget, "memory_budget", 1, none_ok=True)
        self.forward_batch_size = check_whole(self.forward_batch_size, "forward_batch_size", 1)
        if self.noise_variance is not None:
            self.noise_variance = check_positive(self.noise_variance, "noise_variance", "Or None for the variant without noise.")
        self.noise_draws = check_whole(self.noise_draws, "noise_draws", 1)
        if self.unit_pooling is not None:
            check_choice(self.unit_pooling, "unit_pooling", POOLINGS)
        axes = self.unit_axis.values() if isinstance(self.unit_axis, dict) else [self.unit_axis]
        bad = [a for a in axes if a is not None and (isinstance(a, bool) or a not in (1, -1))]
        if bad:
            raise ValueError(f"unit_axis must be 1 (channels) or -1 (the last axis), for every layer or per layer; got {bad[0]!r}")
        if self.heads is not None:
            self.heads = {str(k): check_whole(v, f"heads[{k!r}]", 1) for k, v in dict(self.heads).items()}
        check_choice(self.token_pooling, "token_pooling", TOKEN_POOLINGS)
        check_choice(self.input_representation, "input_representation", INPUT_REPRESENTATIONS)
        check_choice(self.target, "target", ("classes", "continuous"))
        self.bootstrap = check_whole(self.bootstrap, "bootstrap", 0)
        self.bootstrap_fraction = check_interval(self.bootstrap_fraction, "bootstrap_fraction", 0.1, 1.0)
        if self.sigma_smoothing is not None:
            self.sigma_smoothing = check_interval(self.sigma_smoothing, "sigma_smoothing", 0.0, 1.0)
        self.sensitivity, self.calibrate, self.scale_check = bool(self.sensitivity), bool(self.calibrate), bool(self.scale_check)
        self.chance = check_whole(self.chance, "chance", 0)
        check_choice(self.on_error, "on_error", ("warn", "raise"))
        self.progress = check_progress(self.progress)

    @property
    def continuous_y(self) -> bool:
        """Whether the probes' y is a continuous target (:attr:`target`)."""
        return self.target == "continuous"

    @property
    def draws(self) -> int:
        """Copies of each probe sample measured: ``noise_draws`` for the noise-injected variant, else 1."""
        return int(self.noise_draws) if self.noise_variance is not None else 1

    def measures(self, probe: str, estimator: Estimator) -> bool:
        """Whether ``estimator`` measures the probe named ``probe`` (:attr:`probe_estimators`)."""
        chosen = self.probe_estimators
        return chosen is None or probe not in chosen or estimator.name in chosen[probe]

    def measures_units(self, estimator: Estimator) -> bool:
        """Whether ``estimator`` measures units (:attr:`unit_estimators`, else its ``tags.per_unit``)."""
        chosen = self.unit_estimators
        return estimator.tags.per_unit if chosen is None else estimator.name in chosen

    def pooling(self, estimator: Estimator) -> str:
        """How conv units are presented to ``estimator``."""
        return self.unit_pooling or estimator.tags.unit_pooling

    def as_config(self) -> dict[str, Any]:
        """The settings as plain JSON-able values, stored with the run."""
        config = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        config["estimators"] = [{"method": e.name, **e.get_params()} for e in self.estimators]
        config["noise_draws"] = self.draws
        for key in ("forward_batch_size", "memory_budget", "on_error", "device", "progress"):  # how, not what: not part of a run's identity
            config.pop(key)
        return config


def recording_options(base: RecordingOptions | None = None, **overrides: Any) -> RecordingOptions:
    """``base`` (default: the defaults) with the named fields replaced, checked once more.

    Raises
    ------
    TypeError
        For a name that is not a recording option, listing those that are.

    Examples
    --------
    >>> recording_options(RecordingOptions(unit_every=5), bootstrap=3).unit_every
    5
    >>> recording_options(unit_evry=2)
    Traceback (most recent call last):
    ...
    TypeError: unknown recording option(s) unit_evry; the options are: layers, estimators, units, max_units, every, ..., device
    """
    names = [f.name for f in dataclasses.fields(RecordingOptions)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise TypeError(f"unknown recording option(s) {', '.join(unknown)}; the options are: {', '.join(names)}")
    return dataclasses.replace(base or RecordingOptions(), **overrides)
