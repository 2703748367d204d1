"""The original's private module takes the real module's classes only where that is safe.

In-process, on modules made from source as the runner makes them (``runner/child.py``).
"""

from __future__ import annotations

import types

from pytest_codeflash.runner.overlay import adopt_classes, load_shadow

from .twins import load_module

NAME = "adoptmod"

BOX = """\
class Box:
    def __init__(self, items):
        self.items = list(items)

    def same(self, other):
        return isinstance(other, Box) and other.items == self.items
"""


def _adopt(original: str, candidate: str, qualname: str = "Box.same") -> list[str]:
    real = load_module(NAME, candidate)
    shadow = load_shadow(NAME, original, real, f"<{NAME} original>")
    adopted = adopt_classes(shadow, real, original, candidate, qualname)
    for name in adopted:
        assert vars(shadow)[name] is vars(real)[name]
    return adopted


def _changed(source: str) -> str:
    """The same module with the target's body written another way."""
    return source.replace(
        "return isinstance(other, Box) and other.items == self.items",
        "same = isinstance(other, Box)\n        return same and other.items == self.items",
    )


def _in_init(source: str, line: str) -> str:
    """``source`` with ``line`` added to ``Box.__init__``."""
    first = "        self.items = list(items)\n"
    return source.replace(first, f"{first}        {line}\n")


def test_an_unchanged_stateless_class_is_the_real_one() -> None:
    assert _adopt(BOX, _changed(BOX)) == ["Box"]
    helper = BOX + "\n\ndef helper(box):\n    return Box(box.items)\n"
    faster = helper.replace("return Box(box.items)", "return Box(list(box.items))")
    assert _adopt(helper, faster, qualname="helper") == ["Box"]
    assert _adopt(helper, _changed(helper), qualname="helper") == []  # not the target


def test_new_names_the_original_never_mentions_are_allowed() -> None:
    assert _adopt(BOX, "import itertools\n" + _changed(BOX)) == ["Box"]


def test_a_candidate_that_changed_anything_else_adopts_nothing() -> None:
    source = BOX + "\n\ndef helper():\n    return 1\n"
    assert _adopt(source, _changed(source).replace("return 1", "return 2")) == []
    assert _adopt(source, _changed(source) + "\nhelper = None\n") == []


def test_classes_that_keep_or_reach_state_stay_the_twins() -> None:
    kept = BOX.replace("class Box:\n", "class Box:\n    made = []\n\n")
    assert _adopt(kept, _changed(kept)) == []
    reached = "SEEN = {}\n\n" + _in_init(BOX, "SEEN[1] = self")
    assert _adopt(reached, _changed(reached)) == []
    through = "SEEN = {}\n\ndef note(box):\n    SEEN[1] = box\n\n" + _in_init(BOX, "note(self)")
    assert _adopt(through, _changed(through)) == []
    rebinds = "COUNT = 0\n\ndef note():\n    global COUNT\n    COUNT += 1\n\n"
    rebinds += _in_init(BOX, "note()")
    assert _adopt(rebinds, _changed(rebinds)) == []


def test_constants_functions_and_modules_are_stateless() -> None:
    source = "import math\nLIMIT = 3\n\ndef clip(n):\n    return min(n, LIMIT)\n\n" + BOX.replace(
        "list(items)", "list(items)[: clip(int(math.sqrt(9)))]"
    )
    assert _adopt(source, _changed(source)) == ["Box"]


def test_related_classes_are_adopted_together_or_not_at_all() -> None:
    family = BOX + "\n\nclass Crate(Box):\n    labels = []\n"
    assert _adopt(family, _changed(family)) == []  # Crate keeps state; Box goes with it
    uses = BOX.replace("isinstance(other, Box)", "isinstance(other, (Box, Tag))") + (
        "\n\nclass Tag:\n    seen = []\n"
    )
    assert _adopt(uses, _changed(uses)) == []


def test_a_target_that_uses_super_keeps_its_class() -> None:
    source = BOX.replace(
        "return isinstance(other, Box) and other.items == self.items",
        "return super().__eq__(other) or isinstance(other, Box) and other.items == self.items",
    )
    candidate = source.replace("return super()", "same = 1\n        return super()")
    assert _adopt(source, candidate) == []
    init = source.replace("self.items = list(items)", "self.items = [*items]")
    assert _adopt(source, init, qualname="Box.__init__") == ["Box"]


def test_a_twin_module_is_left_alone_when_a_source_does_not_parse() -> None:
    real = load_module(NAME, BOX)
    shadow = types.ModuleType(NAME)
    assert adopt_classes(shadow, real, BOX, "def (", "Box.same") == []
