"""deque: lists used as FIFO queues become collections.deque."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(graph, start):
    queue = [start]
    seen = {start}
    order = []
    while queue:
        node = queue.pop(0)
        order.append(node)
        for nxt in graph[node]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order
"""

EXPECTED = """\
from collections import deque


def f(graph, start):
    queue = deque([start])
    seen = {start}
    order = []
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in graph[node]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order
"""


def test_breadth_first_queue_becomes_a_deque() -> None:
    assert proposals("deque", SOURCE) == [EXPECTED]


def test_deque_behaves_the_same() -> None:
    graph = {1: [2, 3], 2: [4], 3: [4, 1], 4: []}
    same_behaviour(SOURCE, EXPECTED, [(graph, 1), (graph, 4)])


def test_front_insertion_and_imported_collections() -> None:
    source = """\
    import collections

    def f(items):
        stack = []
        for x in items:
            stack.insert(0, x)
        return len(stack), stack[0]
    """
    (found,) = proposals("deque", source)
    assert "stack = collections.deque()" in found
    assert "stack.appendleft(x)" in found


def test_queues_that_escape_or_are_sliced_stay_lists() -> None:
    returned = """\
    def f(items):
        queue = list(items)
        queue.pop(0)
        return queue
    """
    sliced = """\
    def f(items):
        queue = list(items)
        queue.pop(0)
        return len(queue[1:])
    """
    assert proposals("deque", returned) == []
    assert proposals("deque", sliced) == []
