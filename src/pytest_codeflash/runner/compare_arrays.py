"""Compare numpy arrays and scalars, and pandas frames, series and indexes.

Runs inside the isolated runner: numpy and pandas are never imported here.  ``compare``
dispatches to these functions only when the user's code already loaded them, and passes the
loaded module in.
"""

from __future__ import annotations

from typing import Any

from .mismatch import Comparer, Mismatch, Unverifiable, differ


def compare_numpy(c: Comparer, np: Any, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
    """Arrays and numpy scalars: dtype, shape, then values (NaNs equal by position)."""
    x, y = np.asarray(e), np.asarray(a)
    if x.dtype != y.dtype:
        return differ(path, e, a, f"dtype {x.dtype} != {y.dtype}")
    if x.shape != y.shape:
        return differ(path, e, a, f"shape {x.shape} != {y.shape}")
    if x.dtype.kind == "O":
        for i in np.ndindex(x.shape):
            m = c.node(x[i], y[i], path + _index(i), depth)
            if m is not None:
                return m
        return None
    with np.errstate(all="ignore"):
        differs = _array_differences(np, x, y, c.rel_tol)
        if not differs.any():
            return None
        i = tuple(int(n) for n in np.argwhere(differs)[0])
        detail = "values differ"
        if x.dtype.kind in "fc" and bool(np.isnan(x[i]) != np.isnan(y[i])):
            detail = "NaN positions differ"
        elif x.dtype.kind == "f" and bool(x[i] == y[i]):
            detail = "sign of zero differs"
    return differ(path + _index(i), x[i], y[i], detail)


def compare_pandas(c: Comparer, pd: Any, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
    """DataFrame, Series and Index: axes, names and dtypes, then ``.equals``."""
    if isinstance(e, pd.DataFrame):
        axes = [("columns", e.columns, a.columns), ("index", e.index, a.index)]
        kinds = ", ".join(map(str, e.dtypes)), ", ".join(map(str, a.dtypes))
    elif isinstance(e, pd.Series):
        axes = [("index", e.index, a.index), ("name", e.name, a.name)]
        kinds = str(e.dtype), str(a.dtype)
    else:
        axes = [("names", list(e.names), list(a.names))]
        kinds = str(e.dtype), str(a.dtype)
    for name, x, y in axes:
        m = c.node(x, y, f"{path}.{name}", depth)
        if m is not None:
            return m
    if kinds[0] != kinds[1]:
        return differ(path, e, a, f"dtypes {kinds[0]} != {kinds[1]}")
    return None if bool(e.equals(a)) else differ(path, e, a, "values differ")


def _array_differences(np: Any, x: Any, y: Any, rel_tol: float) -> Any:
    """Return a boolean array marking where two same-shaped, same-dtype arrays differ."""
    kind = x.dtype.kind
    if kind in "fc":
        parts = [(x.real, y.real), (x.imag, y.imag)] if kind == "c" else [(x, y)]
        differs = np.zeros(x.shape, dtype=bool)
        for p, q in parts:
            if rel_tol > 0.0:
                same = np.isclose(p, q, rtol=rel_tol, atol=0.0)
            else:  # == alone would let -0.0 match 0.0
                same = (p == q) & (np.signbit(p) == np.signbit(q))
            differs |= ~(same | (np.isnan(p) & np.isnan(q)))
        return differs
    if kind in "mM":
        return ~((x == y) | (np.isnat(x) & np.isnat(y)))
    differs = np.asarray(x != y, dtype=bool)
    if differs.shape != x.shape:
        raise Unverifiable(f"numpy cannot compare {x.dtype} arrays elementwise")
    return differs


def _index(index: tuple[int, ...]) -> str:
    return f"[{', '.join(map(str, index))}]" if index else ""
