"""A fast but WRONG ``unique_words`` for ``quickstart.textstats`` (kept as a demonstration).

It merges words that differ only in case ("The" and "the") and keeps the first spelling.
The project's tests still pass with it, but it returns a different list whenever a text
contains the same word in two spellings, so pytest-codeflash rejects it.
"""


def unique_words(text: str) -> list[str]:
    """Return the distinct words of ``text`` in the order they first appear."""
    first_spelling: dict[str, str] = {}
    for word in text.split():
        first_spelling.setdefault(word.lower(), word)
    return list(first_spelling.values())
