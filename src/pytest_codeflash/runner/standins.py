"""Stand-ins for ``datetime.datetime`` and ``datetime.date`` that read the virtual clock.

Runs inside the runner subprocess: standard library only.  :mod:`.determinism` binds them in
the modules it prepares (the classes themselves are C types and cannot be patched) and sets
:data:`ACTIVE` while a Determinism is active; outside one they behave like the real classes.
"""

from __future__ import annotations

import datetime as _dt
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ACTIVE", "DeterministicDate", "DeterministicDatetime", "datetime_proxy"]

_REAL_DATETIME = _dt.datetime
_REAL_DATE = _dt.date
_T = TypeVar("_T")


class _Active:
    """Which Determinism is active, if any (``current``: it has ``_wall_us()``)."""

    current: Any = None


ACTIVE = _Active()


class _StandIn(type):
    """Metaclass making a stand-in class interchangeable with the real class it replaces.

    Calling it builds the real class, so the original's and the candidate's values have the
    same type and pickle as usual; ``isinstance`` accepts real instances, since user code
    checks values created outside the prepared module.  User subclasses behave normally.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        real = cls.__dict__.get("_real_type")
        if real is None:
            return super().__call__(*args, **kwargs)
        return real(*args, **kwargs)

    def __instancecheck__(cls, instance: object) -> bool:
        real = cls.__dict__.get("_real_type")
        if real is None:  # a user subclass of a stand-in: ordinary semantics
            return type.__instancecheck__(cls, instance)
        return isinstance(instance, real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        real = cls.__dict__.get("_real_type")
        if real is None:
            return type.__subclasscheck__(cls, subclass)
        return issubclass(subclass, real)


class DeterministicDatetime(_REAL_DATETIME, metaclass=_StandIn):
    """Stand-in for ``datetime.datetime`` whose clock readings follow the active Determinism."""

    _real_type = _REAL_DATETIME

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> Self:
        """Return the virtual wall-clock time when active, else the real one."""
        foreign = _foreign_class("datetime", cls)
        if foreign is not None:
            return cast("Self", foreign.now(tz))
        return (
            super().now(tz)
            if ACTIVE.current is None
            else _rebuild(cls, _virtual_now(ACTIVE.current, tz))
        )

    @classmethod
    def utcnow(cls) -> Self:
        """Return the virtual UTC time (naive) when active, else the real one."""
        foreign = _foreign_class("datetime", cls)
        if foreign is not None:
            return cast("Self", foreign.utcnow())
        if ACTIVE.current is None:
            return super().utcnow()
        return _rebuild(cls, _virtual_now(ACTIVE.current, _dt.timezone.utc).replace(tzinfo=None))

    @classmethod
    def today(cls) -> Self:
        """Return the virtual local time (naive) when active, else the real one."""
        foreign = _foreign_class("datetime", cls)
        if foreign is not None:
            return cast("Self", foreign.today())
        return cls.now() if ACTIVE.current is not None else super().today()


class DeterministicDate(_REAL_DATE, metaclass=_StandIn):
    """Stand-in for ``datetime.date`` whose ``today()`` follows the active Determinism."""

    _real_type = _REAL_DATE

    @classmethod
    def today(cls) -> Self:
        """Return the virtual local date when active, else the real one."""
        foreign = _foreign_class("date", cls)
        if foreign is not None:
            return cast("Self", foreign.today())
        if ACTIVE.current is None:
            return super().today()
        day = _REAL_DATE.fromtimestamp(ACTIVE.current._wall_us() // 1_000_000)
        if cls is DeterministicDate:
            return cast("Self", day)
        return cls(day.year, day.month, day.day)


def _foreign_class(name: str, cls: type) -> Any:
    """The ``datetime`` module's ``name`` class if something else replaced it (freezegun's
    fakes, a test's monkeypatch), else ``None``.

    Only the stand-ins themselves defer; a user subclass keeps its own behaviour.
    """
    if cls is not DeterministicDatetime and cls is not DeterministicDate:
        return None
    current = getattr(sys.modules.get("datetime", _dt), name, None)
    # The real classes are read from the stand-ins, not from this module's globals: a tool
    # like freezegun replaces every module global that holds them, ours included.
    real = (DeterministicDatetime.__dict__["_real_type"], DeterministicDate.__dict__["_real_type"])
    if current is None or current in real or current in (DeterministicDatetime, DeterministicDate):
        return None
    return current


def _virtual_now(active: Any, tz: _dt.tzinfo | None) -> _dt.datetime:
    """Read ``active``'s wall clock as a real datetime in ``tz`` (naive local time if None)."""
    seconds, micros = divmod(active._wall_us(), 1_000_000)
    return _REAL_DATETIME.fromtimestamp(seconds, tz).replace(microsecond=micros)


def _rebuild(cls: Callable[..., _T], moment: _dt.datetime) -> _T:
    """Return ``moment`` as an instance of ``cls`` when it is a user subclass."""
    if cls is DeterministicDatetime:
        return cast(_T, moment)
    fields = moment.timetuple()[:6]
    return cls(*fields, moment.microsecond, moment.tzinfo, fold=moment.fold)


def datetime_proxy() -> types.ModuleType:
    """Build a copy of the ``datetime`` module whose classes are the stand-ins."""
    proxy = types.ModuleType(_dt.__name__, _dt.__doc__)
    proxy.__dict__.update(
        {key: value for key, value in vars(_dt).items() if key not in ("__name__", "__doc__")}
    )
    proxy.__dict__.update(datetime=DeterministicDatetime, date=DeterministicDate)
    return proxy
