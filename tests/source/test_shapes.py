"""Context extraction and merging on the shapes real projects have.

Each test builds a small project, extracts the target's context, checks what a model would be
shown, then merges a plausible answer and checks what would be written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codeflash.errors import InterfaceChange
from pytest_codeflash.source.codeblocks import CodeBlock, render_blocks
from pytest_codeflash.source.context import extract_context
from pytest_codeflash.source.replace import candidate_from_blocks, merge_blocks, merge_candidate

from .test_context import blocks, code, make_project, target


def merged_file(root: Path, answer: str, module: str, qualname: str, rel: str) -> str:
    spec = target(root, module, qualname, package_root="src" if rel.startswith("src/") else "")
    merged = merge_blocks(answer, spec, root)
    return merged[(root / rel).resolve()]


def test_decorators(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/app/__init__.py": "",
            "src/app/deco.py": """
                import functools


                def retry(times):
                    def wrap(fn):
                        @functools.wraps(fn)
                        def inner(*args, **kwargs):
                            return fn(*args, **kwargs)
                        return inner
                    return wrap
                """,
            "src/app/work.py": """
                import functools

                from .deco import retry


                @functools.lru_cache(maxsize=None)
                def _cost(n):
                    return sum(range(n))


                @retry(times=3)
                def run(jobs):
                    return [_cost(j) for j in jobs]
                """,
        },
    )
    context = extract_context(target(root, "app.work", "run"), root)
    rw = blocks(context.read_writable)["src/app/work.py"]
    assert "@functools.lru_cache(maxsize=None)\ndef _cost(n):" in rw
    assert "@retry(times=3)\ndef run(jobs):" in rw
    assert context.helpers == ["app.work._cost"]
    # The decorator's definition is read-only: a candidate may not change the interface.
    assert blocks(context.read_only)["src/app/deco.py"].startswith("import functools\n")
    assert "def retry(times):" in context.read_only

    dropped = "def run(jobs):\n    return list(map(_cost, jobs))\n"
    with pytest.raises(InterfaceChange, match=r"changes the decorators of app.work.run"):
        merge_blocks(dropped, target(root, "app.work", "run"), root)
    kept = "@retry(times=3)\ndef run(jobs):\n    return list(map(_cost, jobs))\n"
    merged = merged_file(root, kept, "app.work", "run", "src/app/work.py")
    assert "@retry(times=3)\ndef run(jobs):\n    return list(map(_cost, jobs))\n" in merged
    assert "@functools.lru_cache(maxsize=None)\ndef _cost(n):" in merged


def test_nested_classes(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "shapes.py": """
                class Outer:
                    LIMIT = 3

                    class Inner:
                        \"\"\"The inner one.\"\"\"

                        factor = 2

                        def __init__(self, values):
                            self.values = values

                        def scaled(self):
                            return [v * self.factor for v in self.values]

                        def other(self):
                            return 0

                    def outer_method(self):
                        return 1
                """
        },
    )
    spec = target(root, "shapes", "Outer.Inner.scaled", package_root="")
    context = extract_context(spec, root)
    assert blocks(context.read_writable)["shapes.py"] == code(
        '''
        class Outer:
            class Inner:
                """The inner one."""
                factor = 2

                def __init__(self, values):
                    self.values = values

                def scaled(self):
                    return [v * self.factor for v in self.values]
        '''
    )
    answer = (
        "class Outer:\n    class Inner:\n        def scaled(self):\n"
        "            f = self.factor\n            return [v * f for v in self.values]\n"
    )
    merged = merged_file(root, answer, "shapes", "Outer.Inner.scaled", "shapes.py")
    assert "            f = self.factor\n" in merged
    assert "def other(self):" in merged
    assert "def outer_method(self):" in merged
    assert "LIMIT = 3" in merged


def test_method_that_depends_on_init(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/inv/__init__.py": "",
            "src/inv/stock.py": """
                class Stock:
                    def __init__(self, items):
                        self.items = list(items)
                        self.index = {}

                    def find(self, name):
                        for item in self.items:
                            if item == name:
                                return True
                        return False
                """,
        },
    )
    spec = target(root, "inv.stock", "Stock.find")
    context = extract_context(spec, root)
    assert "self.items = list(items)" in context.read_writable
    assert context.helpers == ["inv.stock.Stock.__init__"]
    # The model rewrites __init__ to keep a set, and find to use it: both are merged.
    answer = render_blocks(
        [
            CodeBlock(
                "src/inv/stock.py",
                "class Stock:\n"
                "    def __init__(self, items):\n"
                "        self.items = list(items)\n"
                "        self.index = {}\n"
                "        self._names = set(self.items)\n\n"
                "    def find(self, name):\n"
                "        return name in self._names\n",
            )
        ]
    )
    merged = merged_file(root, answer, "inv.stock", "Stock.find", "src/inv/stock.py")
    assert "self._names = set(self.items)" in merged
    assert "return name in self._names" in merged


def test_relative_imports(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/lib/__init__.py": "",
            "src/lib/core.py": "def norm(x):\n    return abs(x)\n",
            "src/lib/sub/__init__.py": "",
            "src/lib/sub/helpers.py": "def clip(x):\n    return min(x, 10)\n",
            "src/lib/sub/calc.py": """
                from ..core import norm
                from . import helpers


                def score(values):
                    return [helpers.clip(norm(v)) for v in values]
                """,
        },
    )
    spec = target(root, "lib.sub.calc", "score")
    context = extract_context(spec, root)
    assert sorted(context.helpers) == ["lib.core.norm", "lib.sub.helpers.clip"]
    assert set(blocks(context.read_writable)) == {
        "src/lib/sub/calc.py",
        "src/lib/core.py",
        "src/lib/sub/helpers.py",
    }
    answer = render_blocks(
        [
            CodeBlock(
                "src/lib/sub/calc.py",
                "def score(values):\n    return [helpers.clip(norm(v)) for v in values]\n",
            ),
            CodeBlock("src/lib/core.py", "def norm(x):\n    return x if x >= 0 else -x\n"),
        ]
    )
    merged = merge_blocks(answer, spec, root)
    assert list(merged) == [(root / "src/lib/core.py").resolve()]
    candidate = candidate_from_blocks("c1", answer, spec, root, source="llm")
    (change,) = candidate.other_files
    assert (change.path, change.module) == ("src/lib/core.py", "lib.core")
    assert change.original == "def norm(x):\n    return abs(x)\n"
    assert candidate.module_source == (root / "src/lib/sub/calc.py").read_text()


def test_star_import(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/star/__init__.py": "",
            "src/star/consts.py": (
                "WEIGHTS = {'a': 1, 'b': 2}\n\n\ndef weight(k):\n    return WEIGHTS[k]\n"
            ),
            "src/star/use.py": """
                from .consts import *


                def total(keys):
                    return sum(weight(k) for k in keys)
                """,
        },
    )
    spec = target(root, "star.use", "total")
    context = extract_context(spec, root)
    rw = blocks(context.read_writable)
    assert rw["src/star/use.py"].startswith("from .consts import *\n")
    assert rw["src/star/consts.py"] == "def weight(k):\n    return WEIGHTS[k]\n"
    assert blocks(context.read_only)["src/star/consts.py"] == "WEIGHTS = {'a': 1, 'b': 2}\n"
    answer = (
        "from .consts import *\nfrom .consts import WEIGHTS\n\n\n"
        "def total(keys):\n    return sum(WEIGHTS[k] for k in keys)\n"
    )
    merged = merged_file(root, answer, "star.use", "total", "src/star/use.py")
    assert merged.startswith("from .consts import *\nfrom .consts import WEIGHTS\n")


def test_conditional_imports(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "fast.py": """
                try:
                    import ujson as json
                except ImportError:  # pragma: no cover
                    import json

                import sys

                if sys.version_info >= (3, 11):
                    import tomllib
                else:
                    tomllib = None


                def dump(obj):
                    return json.dumps(obj)
                """
        },
    )
    spec = target(root, "fast", "dump", package_root="")
    context = extract_context(spec, root)
    rw = blocks(context.read_writable)["fast.py"]
    assert rw.startswith("try:\n    import ujson as json\nexcept ImportError:")
    assert "tomllib" not in context.read_writable + context.read_only
    answer = "import json\n\n\ndef dump(obj):\n    return json.dumps(obj, separators=(',', ':'))\n"
    merged = merged_file(root, answer, "fast", "dump", "fast.py")
    assert merged.count("import json") == 1  # json is imported already, conditionally
    assert "separators=(',', ':')" in merged


def test_type_checking_block(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/tc/__init__.py": "",
            "src/tc/models.py": (
                "class Order:\n    def __init__(self, price):\n        self.price = price\n"
            ),
            "src/tc/billing.py": """
                from __future__ import annotations

                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from .models import Order


                def total(orders: list[Order]) -> float:
                    result = 0.0
                    for order in orders:
                        result += order.price
                    return result
                """,
        },
    )
    spec = target(root, "tc.billing", "total")
    context = extract_context(spec, root)
    rw = blocks(context.read_writable)["src/tc/billing.py"]
    assert "if TYPE_CHECKING:\n    from .models import Order\n" in rw
    assert blocks(context.read_only)["src/tc/models.py"].startswith("class Order:")
    merged = merge_blocks(
        context.read_writable.replace(
            "    result = 0.0\n    for order in orders:\n        result += order.price\n"
            "    return result\n",
            "    return sum(order.price for order in orders)\n",
        ),
        spec,
        root,
    )
    text = merged[(root / "src/tc/billing.py").resolve()]
    assert text.count("if TYPE_CHECKING:") == 1
    assert "return sum(order.price for order in orders)" in text


def test_helper_in_another_module_through_a_package_reexport(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/pk/__init__.py": "from .core import helper\n",
            "src/pk/core.py": "def helper(x):\n    return sorted(x)[0]\n",
            "src/pk/api.py": "import pk\n\n\ndef smallest(x):\n    return pk.helper(x)\n",
        },
    )
    context = extract_context(target(root, "pk.api", "smallest"), root)
    assert context.helpers == ["pk.core.helper"]
    assert (
        blocks(context.read_writable)["src/pk/core.py"]
        == "def helper(x):\n    return sorted(x)[0]\n"
    )


def test_crlf_file(tmp_path: Path) -> None:
    original = (
        "import math\r\n\r\n\r\ndef _f(x):\r\n    return math.sqrt(x)\r\n\r\n\r\n"
        "def g(xs):\r\n    return [_f(x) for x in xs]\r\n"
    )
    (tmp_path / "crlf.py").write_bytes(original.encode())
    spec = target(tmp_path, "crlf", "g", package_root="")
    context = extract_context(spec, tmp_path)
    assert "\r" not in context.read_writable
    assert blocks(context.read_writable)["crlf.py"] == original.replace("\r\n", "\n")
    answer = "def g(xs):\n    sqrt = math.sqrt\n    return [sqrt(x) for x in xs]\n"
    merged = merge_candidate(original, answer, spec)
    assert "\n" not in merged.replace("\r\n", "")
    assert "    sqrt = math.sqrt\r\n" in merged
    assert merge_blocks(answer, spec, tmp_path) == {(tmp_path / "crlf.py").resolve(): merged}


def test_syntax_error_elsewhere_in_the_project(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/mix/__init__.py": "",
            "src/mix/broken.py": "def oops(:\n    pass\n",
            "src/mix/good.py": """
                from . import broken
                from .util import twice


                def work(x):
                    if x is None:
                        return broken.oops()
                    return twice(x)
                """,
            "src/mix/util.py": "def twice(x):\n    return x * 2\n",
        },
    )
    spec = target(root, "mix.good", "work")
    context = extract_context(spec, root)
    assert context.helpers == ["mix.util.twice"]
    assert context.unparsable == ["src/mix/broken.py"]
    answer = "def work(x):\n    if x is None:\n        return broken.oops()\n    return x + x\n"
    merged = merged_file(root, answer, "mix.good", "work", "src/mix/good.py")
    assert "return x + x" in merged
