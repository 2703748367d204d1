"""A faster ``unique_words`` for ``quickstart.textstats``.

A dict keeps its keys in insertion order, so ``dict.fromkeys`` drops repeated words in one
pass instead of scanning the result list for every word: O(n) instead of O(n * unique).
The result is the same list of the same strings, in the same order.
"""


def unique_words(text: str) -> list[str]:
    """Return the distinct words of ``text`` in the order they first appear.

    Words are separated by whitespace and compared exactly: ``"The"`` and ``"the"`` are two
    different words.
    """
    return list(dict.fromkeys(text.split()))
