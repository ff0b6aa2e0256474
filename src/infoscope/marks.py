"""How a stored value's flags read wherever it is shown: at a bound, past a bound, at chance.

A value at its estimator's bound (log2 n, H(X), H(Y), 0) cannot show change above or below
it, a value past a bound is an estimation error, and an I(T;Y) not above its chance level
carries no evidence about the labels: every table, JSON output, report and picture marks them
with the words :func:`value_mark` gives, explained once by :data:`MARK_LEGEND`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["value_mark", "is_marked", "marked", "MARK_LEGEND"]

#: One line that explains the marks, printed under any table that shows one.
MARK_LEGEND = ("marks: 'at log2 n' / 'at H(X)' / 'at H(Y)' / 'at zero': the value sits at its estimator's bound and "
               "cannot show a change beyond it; 'past H(Y) +b': b bits beyond a bound it cannot exceed (an estimation "
               "error, not clipped); 'below 0': a negative MI estimate; 'at chance': I(T;Y) not above its "
               "label-permutation chance level")


def value_mark(params: Mapping[str, Any] | None) -> str:
    """The mark of one value from its stored parameters ("" when there is none).

    Examples
    --------
    >>> value_mark({"saturated": "log2 n"})
    'at log2 n'
    >>> value_mark({"saturated": "H(Y)", "past_bound": 0.1132, "bound_bits": 3.32})
    'past H(Y) +0.113'
    >>> value_mark({"saturated": None, "above_chance": False})
    'at chance'
    >>> value_mark({})
    ''
    """
    if not isinstance(params, Mapping):
        return ""
    flag, past = params.get("saturated"), params.get("past_bound")
    marks = []
    if flag == "below 0":
        marks.append("below 0")
    elif flag and past is not None:
        marks.append(f"past {flag} {past:+.3f}")
    elif flag:
        marks.append(f"at {flag}")
    if params.get("above_chance") is False:
        marks.append("at chance")
    return ", ".join(marks)


def is_marked(params: Mapping[str, Any] | None) -> bool:
    """Whether a value carries a mark (:func:`value_mark`)."""
    return bool(value_mark(params))


def marked(value: float, mark: str, digits: int = 3) -> str:
    """A value as text with its mark beside it.

    Examples
    --------
    >>> marked(8.6439, "at log2 n")
    '8.644 [at log2 n]'
    """
    return f"{value:.{digits}f}" + (f" [{mark}]" if mark else "") if value == value else "—"
