

def test_words_of_a_phrase_of_only_whitespace_are_none() -> None:
    from pytest_codeflash.runner.strategies import st_words

    assert st_words("   ") == []
    assert st_words("one two three") == ["one", "three"]
    assert st_words("one two") == ["two"]
