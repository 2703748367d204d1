"""Reading answers: code blocks merged into the module, or a reason the candidate is dropped."""

from __future__ import annotations

import pytest

from pytest_codeflash.candidates.llm.openai import read_choices
from pytest_codeflash.candidates.llm.parse import Proposal, extract_test_module, to_candidate
from pytest_codeflash.candidates.llm.prompts import function_code
from pytest_codeflash.candidates.llm.source import Answer
from pytest_codeflash.errors import CandidateError
from pytest_codeflash.models import Candidate

from ...conftest import FAST
from .conftest import Project
from .server import answer


def _parse(project: Project, text: str) -> Candidate:
    return to_candidate(
        Proposal("c-1", text), project.target, project.root, project.source, label="test:model"
    )


@pytest.mark.parametrize(
    "text",
    [
        answer(FAST),  # ```python:src/listy/core.py, the service's form
        answer(FAST, path=None),  # a plain ```python block is the target's file
        answer(FAST, path="./src/listy/core.py"),
        FAST,  # bare code, no fence
        "Here you go:\n\n```py\n" + FAST + "```\n\nAnd to try it:\n\n```bash\npytest\n```\n",
    ],
)
def test_code_blocks_are_merged_into_the_module(project: Project, text: str) -> None:
    candidate = _parse(project, text)
    assert candidate.rejection is None
    assert candidate.source == "test:model"
    assert "    seen = set()\n" in candidate.module_source
    assert candidate.module_source.startswith('"""Helpers for lists."""\n')
    assert candidate.module_source.endswith("def total(values):\n    return sum(values)\n")


def test_the_prose_is_the_explanation(project: Project) -> None:
    text = answer(FAST, prose="A set makes each lookup O(1).\nThe order is kept.")
    assert _parse(project, text).explanation == "A set makes each lookup O(1). The order is kept."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the answer is empty"),
        ("Use a set instead of the list.", "the answer has no code block (it begins 'Use a set"),
        (
            "```python\ndef unique(items)\n    return items\n```\n",
            "its code does not parse: syntax error at line 1",
        ),
        (
            answer("def unique(items):\n    return [\n", "src/listy/core.py"),
            "(in the block for src/listy/core.py)",
        ),
        (
            answer("def total(values):\n    return 0\n"),
            "not a rewrite of unique: its code defines total",
        ),
        ("```python\nx = 1\n```\n", "its code defines nothing"),
        ("```bash\nrm -rf /\n```\n", "has code blocks but none in Python"),
        ("```python\ndef unique(items):\n    return items\n", "never closed"),
        (answer(FAST, path="src/listy/elsewhere.py"), "not a Python module of the project"),
        (
            answer(FAST.replace("def unique(items):", "def unique(items, extra=None):")),
            "signature change: the candidate",
        ),
        (answer(FAST) + "#" * 200_001, "over the limit of 200,000"),
    ],
)
def test_a_bad_answer_is_a_rejected_candidate(project: Project, text: str, reason: str) -> None:
    candidate = _parse(project, text)
    assert candidate.rejection is not None
    assert reason in candidate.rejection, candidate.rejection
    assert candidate.module_source == ""
    assert candidate.id == "c-1"


def test_a_known_problem_is_the_rejection(project: Project) -> None:
    candidate = to_candidate(
        Proposal("c-2", "", problem="choice 2 has no content"),
        project.target,
        project.root,
        project.source,
        label="test",
    )
    assert candidate.rejection == "bad reply: choice 2 has no content"


def test_chat_completion_shapes() -> None:
    assert read_choices([], 10) == [Answer(problem="the reply is not a JSON object but list")]
    content_parts = {"choices": [{"message": {"content": [{"type": "text", "text": "hi"}]}}]}
    assert read_choices(content_parts, 10) == [Answer(text="hi")]
    thinking = {"choices": [{"message": {"content": "<think>hmm</think>code"}}]}
    assert read_choices(thinking, 10) == [Answer(text="code")]
    refused = {"choices": [{"message": {"content": None, "refusal": "I can't"}}]}
    (answer_,) = read_choices(refused, 10)
    assert answer_.problem == (
        "choice 1 of the reply has no message content (the model refused: I can't)"
    )
    assert read_choices({"choices": "x"}, 10)[0].problem == "the reply has no 'choices' list"


def test_test_modules_are_checked() -> None:
    good = "import pytest\n\n\ndef test_one():\n    assert True\n"
    assert extract_test_module(f"Tests:\n```python\n{good}```\n") == good
    assert extract_test_module(good) == good
    with pytest.raises(CandidateError, match="no test code"):
        extract_test_module("")
    with pytest.raises(CandidateError, match="defines no test function"):
        extract_test_module("```python\ndef helper():\n    pass\n```\n")
    with pytest.raises(CandidateError, match="syntax error"):
        extract_test_module("```python\ndef test_x(:\n```\n")


def test_function_code_keeps_decorators_and_class_headers() -> None:
    source = (
        "import functools\n\n\nclass Base:\n    pass\n\n\n@dataclass\nclass Box(Base):\n"
        '    """Doc."""\n\n    size: int\n\n    @functools.cache\n    def area(self):\n'
        "        return self.size ** 2\n"
    )
    assert function_code(source, "Box.area") == (
        "@dataclass\nclass Box(Base):\n    @functools.cache\n    def area(self):\n"
        "        return self.size ** 2\n"
    )
    assert function_code(source, "Box.missing") == ""
    assert function_code("def f(:\n", "f") == ""
