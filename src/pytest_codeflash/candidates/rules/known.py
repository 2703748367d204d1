"""What the rules know about Python's builtins: which calls change nothing, which are pure.

Word lists, kept as text because they read better that way.
"""

from __future__ import annotations

__all__ = [
    "CONTAINER_METHODS",
    "IMMUTABLE_RESULTS",
    "NON_MUTATING_METHODS",
    "PURE_BUILTINS",
    "STRING_METHODS",
]

# Methods of the builtin types (and re patterns, numpy arrays) that never change their object.
NON_MUTATING_METHODS = frozenset(
    """
    get keys values items count index copy startswith endswith lower upper strip lstrip
    rstrip split rsplit join find rfind format replace encode decode isdigit isalpha
    isalnum isspace isidentifier islower isupper isnumeric isdecimal casefold title
    capitalize partition rpartition splitlines zfill center ljust rjust expandtabs
    translate issubset issuperset isdisjoint union intersection difference
    symmetric_difference bit_length conjugate hex is_integer search match fullmatch
    findall finditer sub subn group groups groupdict span start end tolist mean sum prod
    max min any all argmax argmin astype reshape dot most_common total deepcopy
    """.split()  # noqa: SIM905
)
# Builtins that neither mutate their arguments nor keep them.
PURE_BUILTINS = frozenset(
    """
    abs all any ascii bin bool bytes callable chr complex dict divmod enumerate filter
    float format frozenset hash hex int isinstance issubclass iter len list map max min
    oct ord pow print range repr reversed round set slice sorted str sum tuple type zip
    """.split()  # noqa: SIM905
)
# Builtins whose results are immutable, so one result can be shared.
IMMUTABLE_RESULTS = frozenset(
    """
    len abs min max sum int float str bool round ord chr hash frozenset tuple any all
    divmod pow repr
    """.split()  # noqa: SIM905
)
# String methods: pure, and their results immutable.
STRING_METHODS = frozenset(
    """
    lower upper strip lstrip rstrip casefold title capitalize replace encode decode
    startswith endswith find rfind count isdigit isalpha isalnum isspace zfill
    """.split()  # noqa: SIM905
)
# Methods of lists, dicts, sets and deques (a bound one can be kept in a local).
CONTAINER_METHODS = frozenset(
    """
    append add extend get setdefault update pop popleft appendleft discard remove
    """.split()  # noqa: SIM905
)
