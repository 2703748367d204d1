"""Simple statistics about words in a text.

Every function here is correct and tested, but written the slow way: each one is a
typical target for pytest-codeflash.
"""

from __future__ import annotations


def unique_words(text: str) -> list[str]:
    """Return the distinct words of ``text`` in the order they first appear.

    Words are separated by whitespace and compared exactly: ``"The"`` and ``"the"`` are two
    different words.
    """
    result: list[str] = []
    for word in text.split():
        if word not in result:
            result.append(word)
    return result


def word_frequencies(text: str) -> dict[str, int]:
    """Count how often each word occurs in ``text``, ignoring case.

    Keys are lower-cased words, in the order they first appear.
    """
    words = text.lower().split()
    frequencies: dict[str, int] = {}
    for word in words:
        if word not in frequencies:
            frequencies[word] = words.count(word)
    return frequencies


def longest_common_prefix(words: list[str]) -> str:
    """Return the longest string that every item of ``words`` starts with.

    An empty list has the empty string as its common prefix.
    """
    if not words:
        return ""
    prefix = ""
    for index, char in enumerate(words[0]):
        for other in words[1:]:
            if index >= len(other) or other[index] != char:
                return prefix
        prefix += char
    return prefix
