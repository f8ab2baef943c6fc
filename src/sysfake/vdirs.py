"""Virtual directories: what `ls` shows for a directory that holds virtual files.

`prepare(rules)` (called by `sysfake run` just before the table is encoded)
picks the directories that need a listing and gives each a directory vfile
(`VirtualFile.directory`). The C core then answers getdents64 on such a
directory with, at that moment and in the process's own view:

    the real directory's entries (none if it does not exist or cannot be
    listed, as /proc/sys in gVisor: EINVAL)
  - entries whose path a `hide` rule decides
  + the virtual children recorded here: exact `content`/`from_host` paths,
    exact and prefix `redirect` sources, `list:` directories, and the
    directories on the way down to each of them.

A directory gets a listing when a `list: true` rule names it, or when it is
the parent of a virtual child or of a hidden path and the listing read now
(in sysfake's view) would differ: a directory that does not exist, or cannot
be listed, always differs. Its ancestors get a "weak" listing: used only where
the process does not have the real directory (after chroot, in a container
root), so that the way down exists. A directory decided by another rule (hidden,
redirected, an errno, a file) gets none. Rules restricted with `only:` and
glob rules add no entries: they do not exist for every process, or cannot be
enumerated. `list: false` on a directory switches all of this off for it and
everything below it (the rule itself never reaches the table).

The vfile's content is the path of an empty private directory (mode 0555 in a
0700 directory), one per listing: the core lets a process open it (through
/proc/<tracer>/fd/N) when the directory does not exist in the process's view,
and maps paths below it back to the virtual directory. Then one record per
virtual child: a type byte (f file, d directory) and the name, each
NUL-terminated. See docs/design.md, "Virtual directories".
"""
from __future__ import annotations

import os
import posixpath

from .datatype import datatype, field
from .model import Action, MatchKind, Origin, PathRule, RuleSet, VirtualFile
from .paths import first_match
from .rules.precedence import sort_key
from .tempdirs import TempDirs
from .tempdirs import make as make_private

ORIGIN = Origin("<directory listing>")
DIR_MODE = 0o555
FILE, DIR = "f", "d"


@datatype
class Listing:
    path: str
    entries: dict[str, str] = field(default_factory=dict)  # virtual name -> FILE/DIR
    explicit: PathRule | None = None  # the list: rule, if any
    # Only on the way down to another listing: where the process has the real
    # directory, its real listing is used as it is.
    weak: bool = False


def _parents(path: str) -> list[tuple[str, str]]:
    """(parent, name) pairs from path up to '/'."""
    out = []
    while path != "/":
        parent, name = posixpath.split(path)
        out.append((parent or "/", name))
        path = parent or "/"
    return out


def _read_real(path: str) -> list[str] | None:
    try:
        return os.listdir(path)
    except OSError:
        return None


def _virtual_children(rules: RuleSet) -> dict[str, dict[str, str]]:
    kids: dict[str, dict[str, str]] = {}

    def add(path: str, kind: str) -> None:
        for i, (parent, name) in enumerate(_parents(path)):
            kids.setdefault(parent, {})
            kids[parent].setdefault(name, kind if i == 0 else DIR)

    for r in rules.path_rules:
        if r.only_exe is not None or r.only_comm is not None or r.kind is MatchKind.GLOB:
            continue
        path = r.match.rstrip("/") or "/"
        if path == "/":
            continue
        if r.action is Action.CONTENT and r.vfile is not None:
            add(path, DIR if r.vfile.directory else FILE)
        elif r.action is Action.REDIRECT:
            is_dir = r.kind is MatchKind.PREFIX or os.path.isdir(r.target or "")
            add(path, DIR if is_dir else FILE)
    return kids


def plan(rules: RuleSet) -> list[Listing]:
    """The directories that get a listing, with their virtual entries."""
    kids = _virtual_children(rules)
    dir_rules = [r for r in rules.path_rules
                 if r.action is Action.CONTENT and r.vfile is not None and r.vfile.directory]
    explicit = {r.match: r for r in dir_rules if r.vfile is not None and r.vfile.listing}
    off = {r.match for r in dir_rules if r.vfile is not None and not r.vfile.listing}
    hidden_parents = {posixpath.dirname(r.match.rstrip("/")) or "/"
                      for r in rules.path_rules
                      if r.action is Action.HIDE and r.kind is not MatchKind.GLOB
                      and r.only_exe is None and r.only_comm is None
                      and r.match.rstrip("/")}
    out: dict[str, Listing] = {}
    weak: dict[str, Listing] = {}
    for d in sorted(set(kids) | set(explicit) | hidden_parents):
        lst = Listing(d, dict(kids.get(d, {})), explicit.get(d))
        decider = first_match(rules, d)
        if any(d == o or d.startswith(o.rstrip("/") + "/") for o in off):
            continue  # list: false: real listings, as they are, in this subtree
        if decider is not None and decider is not lst.explicit:
            continue  # the directory itself is hidden, redirected, a file, ...
        if lst.explicit is None:
            real = _read_real(d)
            if real is not None and set(lst.entries) <= set(real) and not any(
                    (r := first_match(rules, posixpath.join(d, n))) is not None
                    and r.action is Action.HIDE for n in real):
                lst.weak = True  # the real listing is right (in sysfake's view)
                weak[d] = lst
                continue
        out[d] = lst
    # The way down to a listing must exist too (after chroot, in a container).
    # Each step up is looked at once: a path of n names has n listings.
    climbed: set[str] = set()
    for d in list(out):
        while d != "/" and d not in climbed:
            climbed.add(d)
            d = posixpath.dirname(d) or "/"
            if d in weak and d not in out:
                out[d] = weak[d]
    return [out[d] for d in sorted(out)]


def encode_listing(placeholder: str, lst: Listing) -> bytes:
    out = os.fsencode(placeholder) + b"\0"
    for name, kind in sorted(lst.entries.items()):
        out += kind.encode() + os.fsencode(name) + b"\0"
    return out


def without_directories(rules: RuleSet) -> RuleSet:
    """Drop `list: false` rules (they only steer prepare()) for a backend without
    listings; `list: true` rules stay, and such a backend refuses them."""
    keep = [r for r in rules.path_rules
            if not (r.vfile is not None and r.vfile.directory and not r.vfile.listing)]
    return RuleSet(keep, rules.syscall_rules, rules.emulations, rules.cgroupfs_root,
                   rules.cgroupfs_files)


def prepare(rules: RuleSet, base: str | None = None) -> tuple[RuleSet, TempDirs]:
    """The RuleSet with a directory vfile for every listing, and its cleanup.
    The placeholders go in `base` (which must not exist yet) when given."""
    listings = plan(rules)
    if not listings:
        return without_directories(rules), TempDirs()
    if base is None:
        base = make_private("sysfake-vdirs-")  # mode 0700
    else:
        os.mkdir(base, 0o700)

    cleanup = TempDirs(base)
    new_rules = [r for r in rules.path_rules  # list: rules are replaced below
                 if not (r.action is Action.CONTENT and r.vfile is not None
                         and r.vfile.directory)]
    try:
        for i, lst in enumerate(listings):
            top = os.path.join(base, str(i))
            os.mkdir(top)
            # reached through /proc/<tracer>/fd/N: readable by every process
            os.chmod(top, 0o555)
            src = lst.explicit
            vf = VirtualFile(encode_listing(top, lst), DIR_MODE, readonly=True, directory=True,
                             weak=lst.weak)
            if src is not None and src.vfile is not None:
                vf.mode, vf.uid, vf.gid = src.vfile.mode, src.vfile.uid, src.vfile.gid
            new_rules.append(PathRule(lst.path, MatchKind.EXACT, Action.CONTENT,
                                      src.origin if src is not None else ORIGIN, vfile=vf,
                                      only_exe=src.only_exe if src else None,
                                      only_comm=src.only_comm if src else None))
    except BaseException:
        cleanup()
        raise
    new_rules.sort(key=sort_key)
    return RuleSet(new_rules, rules.syscall_rules, rules.emulations,
                   rules.cgroupfs_root, rules.cgroupfs_files), cleanup
