"""`sysfake.datatype` behaves as `dataclasses.dataclass` does, for what sysfake uses.

Each check builds the same class body twice, once with each decorator, and
compares what they do: construction, defaults, factories, repr, equality,
hashing, frozen assignment, inheritance, asdict.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, NamedTuple

import pytest

from sysfake import datatype as dt


class Pair(NamedTuple):
    a: Any
    b: Any


def _both(frozen: bool = False) -> list[tuple[str, Callable[[type], type], Any]]:
    return [
        ("dataclass", dataclasses.dataclass(frozen=frozen), dataclasses.field),
        ("datatype", dt.datatype(frozen=frozen), dt.field),
    ]


def _make(deco: Callable[[type], type], field: Any) -> tuple[type, type]:
    class Base:
        a: int
        b: str = "x"
        c: list[int] = field(default_factory=list)

    base = deco(Base)

    class Child(base):  # type: ignore[valid-type,misc]
        d: float = 1.5
        b: str = "y"  # declared again: keeps its place, new default

    return base, deco(Child)


@pytest.mark.parametrize("frozen", [False, True])
def test_same_behaviour_as_dataclass(frozen: bool) -> None:
    seen: dict[str, list[object]] = {}
    for name, deco, field in _both(frozen):
        base, child = _make(deco, field)
        b1, b2 = base(1), base(1, "z", [3])
        c1 = child(2, c=[4])
        out: list[object] = [
            repr(b1).split(".")[-1], repr(b2).split(".")[-1], repr(c1).split(".")[-1],
            b1 == base(1), b1 == b2, b1 == c1, b1 != base(2), base(2) == child(2, "x"),
            b1.c is not base(1).c,  # a new list for each instance
            base.b, getattr(base, "c", "no class attribute"), child.b,
            child.__match_args__,
        ]
        try:
            out.append(hash(b1) == hash(base(1)))
        except TypeError as e:
            out.append(f"TypeError {e}")
        for bad in ((), (1, "s", [], 4)):
            with pytest.raises(TypeError):
                base(*bad)
        with pytest.raises(TypeError):
            base(1, nope=2)
        if frozen:
            with pytest.raises(AttributeError):
                b1.a = 5
            with pytest.raises(AttributeError):
                del b1.a
        else:
            b1.a = 5
            out.append(b1.a)
        seen[name] = out
    assert seen["datatype"] == seen["dataclass"]
    assert repr(_make(dt.datatype, dt.field)[1](2)).endswith("Child(a=2, b='y', c=[], d=1.5)")


def test_frozen_error_is_the_datatype_one() -> None:
    @dt.datatype(frozen=True)
    class P:
        x: int

    with pytest.raises(dt.FrozenInstanceError, match="cannot assign to field 'x'"):
        P(1).x = 2  # type: ignore[misc]


def test_methods_of_the_class_are_kept() -> None:
    @dt.datatype(frozen=True)
    class P:
        x: int

        def __repr__(self) -> str:
            return "mine"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 7

    assert repr(P(1)) == "mine" and P(1) == P(2) and hash(P(1)) == 7


def test_definition_errors_match_dataclass() -> None:
    for _name, deco, field in _both():
        with pytest.raises(TypeError, match="non-default argument 'b' follows default"):
            class A:
                a: int = 0
                b: int
            deco(A)
        with pytest.raises(ValueError, match="mutable default"):
            class B:
                a: list[int] = []  # noqa: RUF012 - the error is the point
            deco(B)
        with pytest.raises(ValueError, match="both default and default_factory"):
            field(default=1, default_factory=list)


@pytest.mark.parametrize("frozen", [False, True])
def test_init_is_made_at_the_first_instance(frozen: bool) -> None:
    # compiling an __init__ is most of what a class statement costs, and a run
    # imports classes it never instantiates: the real one comes at first use
    sigs = {}
    for name, deco, field in _both(frozen):
        base, child = _make(deco, field)

        class Plain(child):  # type: ignore[valid-type,misc]
            """not a datatype: the first instance comes through child's __init__"""

        if name == "datatype":
            stub = child.__dict__["__init__"]
            assert "*args" in str(inspect.signature(stub))
        p = Plain(1, d=2.5)
        assert (p.a, p.b, p.c, p.d) == (1, "y", [], 2.5)
        sigs[name] = [list(inspect.signature(c.__init__).parameters) for c in (base, child)]
        if name == "datatype":
            assert child.__dict__["__init__"] is not stub  # replaced, once
            assert Plain.__init__ is child.__dict__["__init__"]
            assert "*args" in str(inspect.signature(base.__init__))  # not made yet
            base(0)
            sigs[name][0] = list(inspect.signature(base.__init__).parameters)
    assert sigs["datatype"] == sigs["dataclass"]


def test_asdict_matches_dataclasses_asdict() -> None:
    built = {}
    for name, deco, field in _both():
        class Leaf:
            v: int
            t: tuple[int, ...] = (1, 2)

        leaf = deco(Leaf)

        class Tree:
            leaves: list[Any]
            by_name: dict[str, Any] = field(default_factory=dict)
            top: Any = None
            pair: Any = None

        tree = deco(Tree)
        t = tree([leaf(1), leaf(2, (3,))], {"k": leaf(4)}, leaf(5), Pair(leaf(6), 7))
        built[name] = dataclasses.asdict(t) if name == "dataclass" else dt.asdict(t)
    assert built["datatype"] == built["dataclass"]
    assert dt.field_names(tree) == ("leaves", "by_name", "top", "pair")


def test_equality_is_tuple_equality() -> None:
    nan = float("nan")
    for _name, deco, _field in _both(frozen=True):
        class P:
            x: float

        p = deco(P)
        a = p(nan)
        b = p.__new__(p)
        object.__setattr__(b, "x", a.x)  # the same NaN object: equal, as in a tuple
        assert (a == b, p(1.0) == p(1.0), p(1.0) == p(2.0)) == (True, True, False)


def test_sysfake_types_are_datatypes() -> None:
    # the run path's types: constructed and compared as before
    from sysfake.model import Origin, PathRule, RuleSet
    from sysfake.rules.pos import Pos

    assert Pos(1, 2) == Pos(1, 2) and hash(Pos(1, 2)) == hash(Pos(1, 2))
    assert str(Origin("f", 3, 4)) == "f:3:4" and Origin("f") == Origin("f", 0, 0)
    rs = RuleSet()
    assert rs.path_rules == [] and rs.path_rules is not RuleSet().path_rules
    with pytest.raises(TypeError):
        hash(RuleSet())
    assert dt.field_names(PathRule)[:4] == ("match", "kind", "action", "origin")


def _named_tuples() -> list[Any]:
    out: list[Any] = []
    for base in (NamedTuple, dt.NamedTuple):
        class P(base):  # type: ignore[valid-type,misc]
            """a point"""

            x: int
            y: list[int]

            def total(self) -> int:
                return int(self.x) + len(self.y)

        out.append(P)
    return out


def test_named_tuple_behaves_as_typings() -> None:
    import copy
    import pickle

    seen = []
    for cls in _named_tuples():
        cls.__qualname__ = "P"
        globals()["P"] = cls  # pickle finds the class by its name
        try:
            p = cls(1, [2])
            out: list[object] = [
                cls.__mro__[1:], type(cls), cls.__doc__, cls.__module__, cls.__slots__,
                cls._fields, cls._field_defaults, cls.__match_args__, cls.x.__doc__,
                repr(p), p == cls(x=1, y=[2]) == cls(1, y=[2]) == (1, [2]), tuple(p),
                p[1], p.total(), hash(cls(1, (2,))) == hash((1, (2,))), hasattr(p, "__dict__"),
                p._asdict(), p._replace(y=[3]), cls._make([3, [4]]),
                pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p),
                dt.asdict(cls(1, cls(2, [3]))),
            ]
        finally:
            del globals()["P"]
        for args, kwargs in (((1,), {}), ((1, [], 3), {}), ((1, []), {"z": 3}), ((1,), {"x": 2})):
            with pytest.raises(TypeError):
                cls(*args, **kwargs)
        with pytest.raises(TypeError):
            cls._make([1])
        with pytest.raises(ValueError, match="unexpected field names"):
            p._replace(z=1)
        with pytest.raises(AttributeError):
            p.x = 3
        seen.append(out)
    assert seen[0] == seen[1]


def test_named_tuple_definition_errors() -> None:
    with pytest.raises(TypeError, match="defaults are not supported"):
        class A(dt.NamedTuple):
            a: int = 0
    with pytest.raises(ValueError, match="underscore"):
        class B(dt.NamedTuple):
            _a: int  # type: ignore[misc]
