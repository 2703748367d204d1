"""The comparator on numpy arrays and scalars, and pandas frames (only when loaded)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from pytest_codeflash.runner.compare import compare_values

from .test_compare import differs

# --- numpy -------------------------------------------------------------------------------------


def test_numpy_arrays() -> None:
    np = pytest.importorskip("numpy")
    nan = float("nan")
    assert compare_values(np.array([1.0, nan]), np.array([1.0, nan])) is None
    assert differs(np.array([1.0, nan]), np.array([nan, 1.0])).detail == "NaN positions differ"
    assert differs(np.array([1, 2]), np.array([1.0, 2.0])).detail == "dtype int64 != float64"
    assert differs(np.zeros((2, 3)), np.zeros((3, 2))).detail == "shape (2, 3) != (3, 2)"
    assert differs(np.array([0.0]), np.array([-0.0])).detail == "sign of zero differs"
    grid, changed = np.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3)
    changed[1, 2] = 9
    mismatch = differs(grid, changed)
    assert (mismatch.path, mismatch.expected, mismatch.actual) == (
        "[1, 2]",
        "np.int64(5)",
        "np.int64(9)",
    )
    close = np.array([1.0, nan]) * (1 + 1e-12)
    assert differs(np.array([1.0, nan]), close).detail == "values differ"
    assert compare_values(np.array([1.0, nan]), close, rel_tol=1e-9) is None
    complex_nan = np.array([complex(1, nan)])
    assert compare_values(complex_nan, complex_nan.copy()) is None
    assert differs(np.array(["a", "b"]), np.array(["a", "c"])).path == "[1]"
    assert compare_values(np.array(["NaT"], "M8[s]"), np.array(["NaT"], "M8[s]")) is None


def test_numpy_objects_and_scalars() -> None:
    np = pytest.importorskip("numpy")
    objects = np.array([1, [2]], dtype=object)
    assert compare_values(objects, np.array([1, [2]], dtype=object)) is None
    assert differs(objects, np.array([1, [2.0]], dtype=object)).path == "[1][0]"
    assert compare_values(np.float64("nan"), np.float64("nan")) is None
    assert differs(np.float64(1.0), np.float32(1.0)).detail == "type float64 != float32"
    assert differs(np.float64(1.0), 1.0).detail == "type float64 != float"
    assert differs(np.int64(3), np.int64(4)).detail == "values differ"
    assert differs(np.array([1]), [1]).detail == "type ndarray != list"


def test_eq_returning_numpy_bool_is_accepted() -> None:
    np = pytest.importorskip("numpy")

    class Wrapped:
        def __init__(self, value: float) -> None:
            self.value = value

        def __eq__(self, other: object) -> Any:
            return np.float64(self.value) == np.float64(other.value)  # type: ignore[attr-defined]

        __hash__ = None  # type: ignore[assignment]

    assert compare_values(Wrapped(1.0), Wrapped(1.0)) is None
    assert differs(Wrapped(1.0), Wrapped(2.0)).detail == "__eq__ says they differ"


def test_pandas_frames() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})
    assert compare_values(frame, frame.copy()) is None
    assert differs(frame, frame.astype({"a": "float64"})).detail == (
        "dtypes int64, float64 != float64, float64"
    )
    assert differs(pd.Index([1, 2]), pd.Index([1.0, 2.0])).detail == "dtypes int64 != float64"
    assert differs(frame, frame.rename(columns={"b": "c"})).path.startswith(".columns")
    assert differs(frame["a"], frame["a"].rename("z")).path == ".name"
    changed = frame.copy()
    changed.loc[1, "a"] = 3
    assert differs(frame, changed).detail == "values differ"


def test_module_imports_no_numpy() -> None:
    modules = ", ".join(f"pytest_codeflash.runner.{m}" for m in ("compare_arrays", "outcomes"))
    code = f"import sys, {modules}; print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
