"""Ordinary tests of quickstart.textstats (they know nothing about pytest-codeflash)."""

from __future__ import annotations

import random

import pytest

from quickstart.textstats import longest_common_prefix, unique_words, word_frequencies

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pu", "an", "el")


def make_text(n_words: int, seed: int) -> str:
    """A reproducible pseudo-text of ``n_words`` words drawn from a 60-word vocabulary.

    Every twelfth word is capitalised, like the first word of a sentence.
    """
    rng = random.Random(seed)
    vocabulary: list[str] = []
    while len(vocabulary) < 60:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        if word not in vocabulary:
            vocabulary.append(word)
    words = [rng.choice(vocabulary) for _ in range(n_words)]
    return " ".join(w.capitalize() if i % 12 == 0 else w for i, w in enumerate(words))


@pytest.fixture(scope="module", params=[7, 8], ids=["corpus-a", "corpus-b"])
def corpus(request: pytest.FixtureRequest) -> str:
    return make_text(3000, seed=request.param)


def test_unique_words_keeps_first_appearance_order() -> None:
    text = "the cat saw the dog and the cat ran"
    assert unique_words(text) == ["the", "cat", "saw", "dog", "and", "ran"]


def test_unique_words_of_blank_text() -> None:
    assert unique_words("") == []
    assert unique_words(" \n\t ") == []


def test_unique_words_on_a_corpus(corpus: str) -> None:
    words = corpus.split()
    result = unique_words(corpus)
    assert len(result) == len(set(result))
    assert result[0] == words[0]
    assert set(result) <= set(words)


def test_word_frequencies_ignores_case() -> None:
    assert word_frequencies("The cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_word_frequencies_on_a_corpus(corpus: str) -> None:
    frequencies = word_frequencies(corpus)
    assert sum(frequencies.values()) == len(corpus.split())
    assert all(word == word.lower() for word in frequencies)
    assert next(iter(frequencies)) == corpus.split()[0].lower()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["flower", "flow", "flight"], "fl"),
        (["dog", "racecar", "car"], ""),
        (["alone"], "alone"),
        (["same", "same", "same"], "same"),
        ([], ""),
    ],
)
def test_longest_common_prefix(words: list[str], expected: str) -> None:
    assert longest_common_prefix(words) == expected


def test_longest_common_prefix_of_many_paths() -> None:
    paths = [f"/srv/www/static/assets/images/gallery/{i:05d}.png" for i in range(1500)]
    assert longest_common_prefix(paths) == "/srv/www/static/assets/images/gallery/0"
