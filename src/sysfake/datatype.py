"""`@datatype`: the part of `@dataclasses.dataclass` that sysfake uses, without its cost.

`import dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`,
`copy`): about 8 ms of every `sysfake run` on the host and 65 ms inside gVisor,
where each module costs several sandbox syscalls (docs/performance.md). The
classes that `run` and `record` build on every start use this instead.

What it does, as dataclass does it: fields from the class annotations, in
order, after the fields of `@datatype` bases; defaults, and
`field(default_factory=...)`; a generated `__init__` (made at the class's
first instance); `__repr__`; `__eq__`
over the fields, for the same class only; `frozen=True` (assignment raises
`FrozenInstanceError`, and instances hash by their fields); unfrozen instances
are unhashable; methods the class defines itself are kept. Type checkers see
a dataclass (PEP 681 `dataclass_transform`).

Not done: `ClassVar`/`InitVar`, `__post_init__`, ordering, `slots`, `kw_only`,
`replace()`/`fields()`; `asdict()` is here, over datatypes, lists, tuples
and dicts.

`NamedTuple` here is `typing.NamedTuple`'s class syntax without its cost:
typing's makes each class through `collections.namedtuple` (an `exec`) after
compiling every string annotation into a ForwardRef, about 0.2 ms a class at
record's start-up; this one builds the same kind of tuple class from the
annotations' names alone, in a tenth of that. Type checkers see
`typing.NamedTuple`. Not done: field defaults.
"""
from __future__ import annotations

import sys
from operator import itemgetter

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar, overload
    from typing import NamedTuple as NamedTuple

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_kw: object) -> object:
        return lambda f: f
FIELDS = "__datatype_fields__"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen datatype."""


class _Field:
    __slots__ = ("default", "factory")

    def __init__(self, default: Any, factory: Any) -> None:
        self.default = default
        self.factory = factory


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING) -> Any:
    """A field's default, or a factory called for each new instance."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return _Field(default, default_factory)


def _own_annotations(cls: type) -> dict[str, Any]:
    if sys.version_info >= (3, 14):  # computed on demand, not kept in the class dict
        import annotationlib

        return dict(annotationlib.get_annotations(cls, format=annotationlib.Format.STRING))
    return dict(vars(cls).get("__annotations__", {}))


def _fields(cls: type) -> dict[str, tuple[Any, Any]]:
    """name -> (default, factory), in field order: bases' fields first, and a
    field a subclass declares again keeps its place (as in dataclass)."""
    spec: dict[str, tuple[Any, Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        for n, d, f in base.__dict__.get(FIELDS, ()):
            spec[n] = (d, f)
    for n, ann in _own_annotations(cls).items():
        if isinstance(ann, str) and ann.startswith(("ClassVar", "typing.ClassVar")):
            continue
        v = cls.__dict__.get(n, MISSING)
        if isinstance(v, _Field):
            spec[n] = (v.default, v.factory)
            if v.default is MISSING:
                delattr(cls, n)  # as dataclass: no class attribute without a default
            else:
                setattr(cls, n, v.default)
        else:
            if type(v) in (list, dict, set):
                raise ValueError(f"mutable default {type(v)} for field {n} is not allowed: "
                                 "use default_factory")
            spec[n] = (v, MISSING)
    return spec


def _check_order(spec: dict[str, tuple[Any, Any]]) -> None:
    """As dataclass, at the class statement: no default before a required field."""
    seen_default = False
    for n, (default, factory) in spec.items():
        if default is MISSING and factory is MISSING and seen_default:
            raise TypeError(f"non-default argument {n!r} follows default argument")
        seen_default = seen_default or default is not MISSING or factory is not MISSING


def _make_init(cls: type, spec: dict[str, tuple[Any, Any]], frozen: bool) -> Any:
    ns: dict[str, Any] = {"MISSING": MISSING, "setattr": object.__setattr__}
    params, body = ["self"], []
    for n, (default, factory) in spec.items():
        if default is not MISSING:
            params.append(f"{n}=_d_{n}")
            ns[f"_d_{n}"] = default
        elif factory is not MISSING:
            params.append(f"{n}=MISSING")
            ns[f"_f_{n}"] = factory
        else:
            params.append(n)
        value = f"_f_{n}() if {n} is MISSING else {n}" if factory is not MISSING else n
        body.append(f"  setattr(self, {n!r}, {value})" if frozen else f"  self.{n} = {value}")
    src = f"def __init__({', '.join(params)}) -> None:\n" + ("\n".join(body) or "  pass") + "\n"
    exec(src, ns)  # our own text, made of the class's field names
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _lazy_init(cls: type, spec: dict[str, tuple[Any, Any]], frozen: bool) -> Any:
    """An __init__ that makes the real one at the class's first instance and
    puts it in its place: compiling it costs a quarter of a millisecond, and
    most classes a run imports are never instantiated (start-up is most of
    what sysfake adds to a short command)."""
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = cls.__dict__["__init__"]
        if init is __init__:
            init = _make_init(cls, spec, frozen)
            type.__setattr__(cls, "__init__", init)
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    return __init__


def _add_methods(cls: type, names: tuple[str, ...], frozen: bool) -> None:
    own = cls.__dict__

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        # tuples, as dataclass compares: an element is equal to itself (NaN)
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    methods: dict[str, Any] = {"__repr__": __repr__, "__eq__": __eq__}
    if frozen:
        methods.update(__setattr__=__setattr__, __delattr__=__delattr__)
    members = {name: fn for name, fn in methods.items() if name not in own}
    for name, fn in members.items():
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
    # a class that defines __eq__ alone has __hash__ None: not a hash of its own
    if "__hash__" not in own or own["__hash__"] is None:
        members["__hash__"] = __hash__ if frozen else None
    for name, value in members.items():
        setattr(cls, name, value)


def _process(cls: type[T], frozen: bool) -> type[T]:
    spec = _fields(cls)
    members: dict[str, Any] = {
        FIELDS: tuple((n, d, f) for n, (d, f) in spec.items()),
        "__match_args__": tuple(spec),
    }
    _check_order(spec)
    if "__init__" not in cls.__dict__:
        members["__init__"] = _lazy_init(cls, spec, frozen)
    for name, value in members.items():
        setattr(cls, name, value)
    _add_methods(cls, tuple(spec), frozen)
    return cls


if TYPE_CHECKING:
    @overload
    def datatype(cls: type[T], /) -> type[T]: ...
    @overload
    def datatype(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def datatype(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    """Decorate a class as `@dataclass` or `@dataclass(frozen=True)` would."""
    if cls is None:
        return lambda c: _process(c, frozen)
    return _process(cls, frozen)


def field_names(obj: object) -> tuple[str, ...]:
    """The field names of a datatype class or instance, in order."""
    return tuple(n for n, _d, _f in getattr(obj, FIELDS))


def asdict(obj: Any) -> Any:
    """A datatype as a dict, recursively (lists, tuples and dicts are copied too)."""
    if hasattr(type(obj), FIELDS):
        return {n: asdict(getattr(obj, n)) for n in field_names(obj)}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(asdict(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------- NamedTuple

def _nt_new(cls: Any, *args: Any, **kwargs: Any) -> Any:
    names = cls._fields
    if kwargs or len(args) != len(names):
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments "
                            f"but {len(args)} were given")
        for n in names[:len(args)]:
            if n in kwargs:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {n!r}")
        values = list(args)
        for n in names[len(args):]:
            if n not in kwargs:
                raise TypeError(f"{cls.__name__}() missing required argument: {n!r}")
            values.append(kwargs.pop(n))
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected arguments: {sorted(kwargs)}")
        args = tuple(values)
    return tuple.__new__(cls, args)


def _nt_make(cls: Any, iterable: Any) -> Any:
    result = tuple.__new__(cls, iterable)
    if len(result) != len(cls._fields):
        raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
    return result


def _nt_replace(self: Any, **kwargs: Any) -> Any:
    result = self._make(map(kwargs.pop, self._fields, self))
    if kwargs:
        raise ValueError(f"Got unexpected field names: {list(kwargs)!r}")
    return result


def _nt_repr(self: Any) -> str:
    inner = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self))
    return f"{self.__class__.__name__}({inner})"


def _nt_asdict(self: Any) -> dict[str, Any]:
    return dict(zip(self._fields, self))


def _nt_getnewargs(self: Any) -> tuple[Any, ...]:
    return tuple(self)  # pickle and copy: __new__ takes the fields, not one tuple


_NT_METHODS = {"__new__": _nt_new, "_make": classmethod(_nt_make), "_replace": _nt_replace,
               "__repr__": _nt_repr, "_asdict": _nt_asdict, "__getnewargs__": _nt_getnewargs}


class _NamedTupleMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        if not bases:  # NamedTuple itself
            return super().__new__(mcs, name, bases, ns)
        fields = tuple(ns.get("__annotations__", {}))
        for i, n in enumerate(fields):
            if n in ns:
                raise TypeError(f"{name}.{n}: field defaults are not supported")
            if n.startswith("_"):
                raise ValueError(f"{name}: field names cannot start with an underscore: {n!r}")
            ns[n] = property(itemgetter(i), doc=f"Alias for field number {i}")
        for k, v in _NT_METHODS.items():
            ns.setdefault(k, v)
        ns.update(__slots__=(), _fields=fields, _field_defaults={}, __match_args__=fields)
        # as typing's: a plain tuple subclass (whose metaclass is type)
        return type(name, (tuple,), ns)


if not TYPE_CHECKING:
    class NamedTuple(metaclass=_NamedTupleMeta):
        """`class P(NamedTuple): x: int` as typing's (see the module's docstring)."""
