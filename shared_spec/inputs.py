"""Checks of the input batch shared by both packages, so both say the same thing (numpy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["check_finite"]


def check_finite(x: np.ndarray, name: str, opt_in: str, before: np.ndarray | None = None) -> None:
    """Raise a ``ValueError`` if ``x`` has NaN or infinite values.

    The check is one ``np.isfinite(x).all()``; only when it fails are the count and the first
    index computed. The packages run their own fast check on the device and call this only to
    word the error, so the message is the same in both.

    Parameters
    ----------
    x : numpy.ndarray
        The values to check (in the model's dtype).
    name : str
        Their name in the message (``"x"``, ``"inputs[1]"``).
    opt_in : str
        How to explain non-finite input anyway, the end of the message.
    before : numpy.ndarray, optional
        ``x`` before a dtype conversion: if it is finite where ``x`` is not, the message says that
        the conversion overflowed.

    Raises
    ------
    ValueError
        Naming how many values are non-finite (NaN / inf), of how many, and the first index.
    """
    finite = np.isfinite(x)
    if finite.all():
        return
    bad = ~finite
    count = int(bad.sum())
    nan = int(np.isnan(x).sum())
    kinds = ", ".join(f"{n} {k}" for n, k in ((nan, "NaN"), (count - nan, "inf")) if n)
    first = tuple(int(k) for k in np.argwhere(bad)[0])
    where = f"the first at index {first} ({x[first].item()})"
    if before is not None and np.isfinite(before[first]):
        where += f", which is {before[first].item()!r} in {before.dtype} and overflows in {x.dtype}, the model's dtype"
    plural = "value" if count == 1 else "values"
    raise ValueError(
        f"{name} has {count} non-finite {plural} ({kinds}) among {x.size}; {where}. "
        f"Explanations of NaN/inf inputs are NaN or meaningless: replace them (e.g. nan_to_num) {opt_in}"
    )
