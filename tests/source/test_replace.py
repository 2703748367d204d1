"""Tests of merging candidates into the original module and of the interface check."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pytest_codeflash.models import TargetFunction
from pytest_codeflash.source.replace import (
    changed_functions,
    merge_candidate,
)


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def target(qualname: str, **flags: bool) -> TargetFunction:
    return TargetFunction(
        module="pkg.mod", qualname=qualname, file=Path("/src/pkg/mod.py"), lineno=1, **flags
    )


ORIGINAL = code(
    '''
    """Order-preserving helpers."""
    import os  # used by other code
    import re


    # Items seen before are dropped; the first occurrence wins.
    def unique_in_order(items, key=None):
        result = []
        for item in items:
            if item not in result:
                result.append(item)
        return result


    def other(x):
        # a comment the merge must keep
        return os.fspath(x)   # odd  spacing kept too
    '''
)


def test_fragment_with_new_helper_and_new_import() -> None:
    fragment = code(
        """
        from functools import lru_cache
        import re


        @lru_cache(maxsize=None)
        def _keyed(key):
            return key


        def unique_in_order(items, key=None):
            return list(dict.fromkeys(items))
        """
    )
    merged = merge_candidate(ORIGINAL, fragment, target("unique_in_order"))
    assert merged == code(
        '''
        """Order-preserving helpers."""
        import os  # used by other code
        import re
        from functools import lru_cache


        @lru_cache(maxsize=None)
        def _keyed(key):
            return key


        # Items seen before are dropped; the first occurrence wins.
        def unique_in_order(items, key=None):
            return list(dict.fromkeys(items))


        def other(x):
            # a comment the merge must keep
            return os.fspath(x)   # odd  spacing kept too
        '''
    )


def test_full_module_keeps_the_originals_comments_elsewhere() -> None:
    # A rewrite of the whole module that reformatted other() and dropped its comments.
    candidate = code(
        '''
        """Order-preserving helpers."""
        import os
        import re


        def unique_in_order(items, key=None):
            return list(dict.fromkeys(items))


        def other(x):
            return os.fspath(x)
        '''
    )
    merged = merge_candidate(ORIGINAL, candidate, target("unique_in_order"))
    assert "# a comment the merge must keep" in merged
    assert "return os.fspath(x)   # odd  spacing kept too" in merged
    assert "import os  # used by other code" in merged
    assert "# Items seen before are dropped" in merged
    assert "return list(dict.fromkeys(items))" in merged
    assert changed_functions(ORIGINAL, merged) == ["unique_in_order"]


def test_identical_full_module_is_returned_unchanged() -> None:
    odd = ORIGINAL.replace("\n", "\r\n") + "\r\n\r\n# trailing comment\r\n"
    assert merge_candidate(odd, odd, target("unique_in_order")) == odd
    assert merge_candidate(ORIGINAL, ORIGINAL, target("unique_in_order")) == ORIGINAL


def test_comment_only_change_is_a_no_op() -> None:
    candidate = ORIGINAL.replace("result = []", "result = []  # the output")
    assert merge_candidate(ORIGINAL, candidate, target("unique_in_order")) == ORIGINAL


def test_crlf_original_keeps_crlf() -> None:
    original = ORIGINAL.replace("\n", "\r\n")
    fragment = code(
        '''
        import itertools


        def unique_in_order(items, key=None):
            """Docstring
            over two lines."""
            return list(dict.fromkeys(items))
        '''
    )
    merged = merge_candidate(original, fragment, target("unique_in_order"))
    assert "\n" not in merged.replace("\r\n", "")
    assert "import itertools\r\n" in merged
    assert '"""Docstring\r\n    over two lines."""' in merged


CLASS_MODULE = code(
    """
    import math


    class Base:
        pass


    class Shape(Base):
        '''A shape.'''

        sides = 0

        def __init__(self, size):
            self.size = size

        @property
        def name(self):
            return "shape"

        @name.setter
        def name(self, value):
            raise AttributeError(value)

        def area(self, scale=1):
            # slow on purpose
            return sum(self.size for _ in range(self.size)) * scale

        def perimeter(self):
            return 4 * self.size

        class Meta:
            def describe(self, verbose=False):
                return "meta"
    """
)


def test_method_replacement_keeps_other_methods() -> None:
    fragment = code(
        """
        class Shape(Base):
            def _square(self):
                return self.size * self.size

            def area(self, scale=1):
                return self._square() * scale
        """
    )
    merged = merge_candidate(CLASS_MODULE, fragment, target("Shape.area", is_method=True))
    expected = CLASS_MODULE.replace(
        "    def area(self, scale=1):\n"
        "        # slow on purpose\n"
        "        return sum(self.size for _ in range(self.size)) * scale\n",
        "    def _square(self):\n"
        "        return self.size * self.size\n"
        "\n"
        "    def area(self, scale=1):\n"
        "        return self._square() * scale\n",
    )
    assert merged == expected
    assert changed_functions(CLASS_MODULE, merged) == ["Shape._square", "Shape.area"]


def test_same_named_definitions_pair_by_decorators() -> None:
    fragment = code(
        """
        class Shape(Base):
            @property
            def name(self):
                return "fast shape"

            def area(self, scale=1):
                return self.size * self.size * scale
        """
    )
    merged = merge_candidate(CLASS_MODULE, fragment, target("Shape.area", is_method=True))
    assert 'return "fast shape"' in merged
    assert "raise AttributeError(value)" in merged  # the setter stays
    assert changed_functions(CLASS_MODULE, merged) == ["Shape.name", "Shape.area"]


def test_nested_class_method() -> None:
    fragment = code(
        """
        class Shape(Base):
            class Meta:
                def describe(self, verbose=False):
                    return "fast meta"
        """
    )
    merged = merge_candidate(CLASS_MODULE, fragment, target("Shape.Meta.describe"))
    assert merged == CLASS_MODULE.replace('return "meta"', 'return "fast meta"')


def test_new_future_import_goes_first_and_imports_merge_by_name() -> None:
    original = code(
        '''
        """Doc."""
        from collections import OrderedDict
        import os.path

        TABLE = {"a": 1}


        def f(x):
            return OrderedDict(x)
        '''
    )
    candidate = code(
        """
        from __future__ import annotations
        from collections import OrderedDict, defaultdict as dd
        import os.path, json
        import os.path as osp

        TABLE = {"a": 1, "b": 2}
        _EMPTY = dd(int)


        def f(x):
            return OrderedDict(x) or _EMPTY
        """
    )
    merged = merge_candidate(original, candidate, target("f"))
    assert merged == code(
        '''
        """Doc."""
        from __future__ import annotations
        from collections import OrderedDict
        import os.path
        from collections import defaultdict as dd
        import json
        import os.path as osp

        TABLE = {"a": 1, "b": 2}
        _EMPTY = dd(int)


        def f(x):
            return OrderedDict(x) or _EMPTY
        '''
    )


def test_new_statement_goes_before_its_first_user() -> None:
    original = code(
        '''
        """Doc."""

        UNITS = {"s": 1}


        def _parse(spec):
            return int(spec[:-1]) * UNITS[spec[-1]]


        def parse_all(specs):
            return [_parse(s) for s in specs]
        '''
    )
    candidate = code(
        '''
        """Doc."""
        import re

        _PATTERN = re.compile(r"([0-9]+)s")

        UNITS = {"s": 1}


        def _parse(spec):
            return int(_PATTERN.fullmatch(spec).group(1))


        def parse_all(specs):
            return [_parse(s) for s in specs]
        '''
    )
    merged = merge_candidate(original, candidate, target("parse_all"))
    assert merged.index("UNITS = ") < merged.index("_PATTERN = ") < merged.index("def _parse")
    assert merged.startswith('"""Doc."""\nimport re\n')
    assert changed_functions(original, merged) == ["_parse"]


def test_new_statement_waits_for_what_it_needs_at_import_time() -> None:
    original = "def target(x):\n    return x\n\n\ndef _table():\n    return {}\n"
    candidate = "TABLE = _table()\n\n\ndef target(x):\n    return TABLE.get(x, x)\n"
    merged = merge_candidate(original, candidate, target("target"))
    assert merged.index("def _table") < merged.index("TABLE = _table()")


def test_changed_functions_ignores_formatting_and_reports_new_ones() -> None:
    before = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    after = "def a():\n    return (1)  # same\n\n\ndef c():\n    pass\n\n\ndef b():\n    return 3\n"
    assert changed_functions(before, after) == ["c", "b"]
    assert changed_functions(before, before) == []


def test_inserted_definitions_get_pep8_blank_lines() -> None:
    original = "def f(x):\n    return x"  # the target first, no trailing newline
    fragment = "import math\ndef _h(x):\n    return math.floor(x)\ndef f(x):\n    return _h(x)\n"
    merged = merge_candidate(original, fragment, target("f"))
    expected = code(
        """
        import math


        def _h(x):
            return math.floor(x)


        def f(x):
            return _h(x)
        """
    )
    assert merged == expected.removesuffix("\n")  # still no newline at the end, like the original


def test_partial_parenthesized_import_keeps_its_layout() -> None:
    original = "from y import c\n\n\ndef f():\n    return c\n"
    fragment = "from y import (\n    c,\n    d,\n)\n\n\ndef f():\n    return c or d\n"
    merged = merge_candidate(original, fragment, target("f"))
    assert merged.startswith("from y import c\nfrom y import (\n    d,\n)\n")


def test_main_block_and_docstring_of_candidate_are_ignored() -> None:
    fragment = '"""Other doc."""\ndef f():\n    return 2\n\nif __name__ == "__main__":\n    f()\n'
    merged = merge_candidate('"""Doc."""\ndef f():\n    return 1\n', fragment, target("f"))
    assert merged == '"""Doc."""\ndef f():\n    return 2\n'


def test_candidate_is_reindented_like_the_original() -> None:
    original = "class A:\n\tdef f(self):\n\t\treturn 1\n\n\tdef g(self):\n\t\treturn 2\n"
    merged = merge_candidate(
        original, "class A:\n    def f(self):\n        return 3\n", target("A.f")
    )
    assert merged == original.replace("return 1", "return 3")


# -- classes other than the target's ------------------------------------------------------------


def test_other_classes_merge_member_by_member() -> None:
    # A fragment with one method of a helper class must not drop the class's other members.
    fragment = code(
        """
        class Base:
            def helper(self):
                return 2


        class Shape(Base):
            def area(self, scale=1):
                return self.helper() * scale
        """
    )
    merged = merge_candidate(CLASS_MODULE, fragment, target("Shape.area", is_method=True))
    assert "class Base:\n    pass\n\n    def helper(self):\n        return 2\n" in merged
    assert "def perimeter(self):" in merged


def test_a_helper_class_may_change_its_bases() -> None:
    original = "class Helper:\n    x = 1\n\n\ndef f():\n    return Helper.x\n"
    fragment = "class Helper(object):\n    y = 2\n\n\ndef f():\n    return Helper.y\n"
    merged = merge_candidate(original, fragment, target("f"))
    assert merged.startswith("class Helper(object):\n    x = 1\n    y = 2\n")


def test_a_conditionally_imported_name_is_not_imported_again() -> None:
    original = (
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n\n\n"
        "def f(x):\n    return json.dumps(x)\n"
    )
    fragment = "import json\n\n\ndef f(x):\n    return json.dumps(x, indent=None)\n"
    merged = merge_candidate(original, fragment, target("f"))
    assert merged == original.replace("json.dumps(x)", "json.dumps(x, indent=None)")
