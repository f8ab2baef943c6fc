from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from sysfake.model import Action, MatchKind
from sysfake.rules import RulesError, load, load_detailed, parse_cli_text

from .helpers import error_of, load_str, write

BRIEF = """\
version: 1
rules:
  - match: /proc/sys/kernel/cap_last_cap     # exact path
    content: "40\\n"
  - match: /proc/sys/net/          # trailing slash
    redirect: /var/lib/sysfake/net/
  - match: /sys/fs/cgroup/unified
    hide: true
  - match: /proc/sys/kernel/**/x
    errno: EACCES
  - match: /proc/sys/vm/overcommit_memory
    content: "1\\n"
    readonly: true
    mode: "0644"
    only: {exe: "*/runc", comm: "runc"}
  - match: /etc/foo
    from_host: /etc/hostname
"""


def by_match(res, pattern):  # type: ignore[no-untyped-def]
    return [lr for lr in res.rules if lr.rule.match == pattern]


def test_brief_example_compiles() -> None:
    res = load_str(BRIEF)
    kinds = {lr.rule.match: (lr.rule.kind, lr.rule.action) for lr in res.rules}
    assert kinds["/proc/sys/kernel/cap_last_cap"] == (MatchKind.EXACT, Action.CONTENT)
    assert kinds["/proc/sys/net/"] == (MatchKind.PREFIX, Action.REDIRECT)
    assert kinds["/sys/fs/cgroup/unified"] == (MatchKind.EXACT, Action.HIDE)
    assert kinds["/proc/sys/kernel/**/x"] == (MatchKind.GLOB, Action.ERRNO)
    r = by_match(res, "/proc/sys/vm/overcommit_memory")[0].rule
    assert r.vfile is not None and r.vfile.readonly and r.vfile.mode == 0o644
    assert (r.only_exe, r.only_comm) == ("*/runc", "runc")
    assert by_match(res, "/proc/sys/kernel/cap_last_cap")[0].rule.vfile.content == b"40\n"
    assert by_match(res, "/proc/sys/kernel/**/x")[0].rule.errno == errno.EACCES
    hide = by_match(res, "/sys/fs/cgroup/unified")[0].rule
    assert hide.errno == errno.ENOENT
    assert by_match(res, "/proc/sys/net/")[0].rule.target == "/var/lib/sysfake/net/"
    # origins point at the rule
    assert str(by_match(res, "/sys/fs/cgroup/unified")[0].origin) == "t.yaml:7:5"


def test_from_host_snapshot_and_skip(tmp_path: Path) -> None:
    host = tmp_path / "h"
    host.write_bytes(b"snap\x00\xff")
    res = load_str(f"""
        version: 1
        rules:
          - match: /etc/a
            from_host: {host}
            mode: "600"
          - match: /etc/b
            from_host: {tmp_path}/missing
          - match: /etc/c
            from_host: {tmp_path}
    """)
    assert [lr.rule.match for lr in res.rules] == ["/etc/a"]
    v = res.rules[0].rule.vfile
    assert v is not None and v.content == b"snap\x00\xff" and v.mode == 0o600
    assert len(res.skipped) == 2
    assert any("missing" in n and "skipped" in n for n in res.notes)


@pytest.mark.parametrize("written,pattern,kind", [
    ("/a/b", "/a/b", MatchKind.EXACT),
    ("/a/b/", "/a/b/", MatchKind.PREFIX),
    ("//a/./b/../c", "/a/c", MatchKind.EXACT),
    ("/a/b/..", "/a", MatchKind.EXACT),
    ("/", "/", MatchKind.PREFIX),
    ("/proc/thread-self/attr/current", "/proc/self/attr/current", MatchKind.EXACT),
    ("/proc/thread-self/", "/proc/self/", MatchKind.PREFIX),
    ("/a/*/c", "/a/*/c", MatchKind.GLOB),
    ("/a/**", "/a/", MatchKind.PREFIX),
    ("/**", "/", MatchKind.PREFIX),
    ("/a/*/", "/a/*/**", MatchKind.GLOB),
    ("/a//b?", "/a/b?", MatchKind.GLOB),
    ("/dev/tty[0]", "/dev/tty[0]", MatchKind.EXACT),
])
def test_pattern_kinds(written: str, pattern: str, kind: MatchKind) -> None:
    res = load_str(f"version: 1\nrules:\n  - match: '{written}'\n    hide: true\n")
    r = res.rules[0].rule
    assert (r.match, r.kind) == (pattern, kind)


@pytest.mark.parametrize("written,msg", [
    ("a/b", "must be an absolute path"),
    ("~/x", "'~' is not expanded"),
    ("", "must not be empty"),
    ("/a/**b", "'**' must be a whole path component"),
    ("/a/***", "'**' must be a whole path component"),
    ("/a/[ab]*", "'[' is not supported in glob patterns"),
    ("/a/{x,y}/*", "'{' is not supported"),
    ("/a/*/../b", "'..' components are not allowed in glob patterns"),
])
def test_bad_patterns(written: str, msg: str) -> None:
    e = error_of(f"version: 1\nrules:\n  - match: '{written}'\n    hide: true\n")
    assert msg in str(e)
    assert (e.line, e.col, e.key) == (3, 12, "rules[0].match")


def test_error_format_and_attributes() -> None:
    e = error_of("version: 1\nrules:\n  - match: /a\n    errno: ENOENTT\n", "my.yaml")
    assert str(e) == "my.yaml:4:12: rules[0].errno: unknown errno 'ENOENTT' (did you mean ENOENT?)"
    assert (e.file, e.line, e.col, e.key) == ("my.yaml", 4, 12, "rules[0].errno")
    assert "\n" not in str(e)


@pytest.mark.parametrize("body,key,msg", [
    ("version: 2\n", "version", "unsupported version 2"),
    ("version: '1'\n", "version", "must be the number 1, not the string '1'"),
    ("rules: []\n", "version", "missing 'version: 1'"),
    ("version: 1\nrule: []\n", "rule", "did you mean rules?"),
    ("version: 1\nrules: {}\n", "rules", "must be a list of rules"),
    ("version: 1\nrules:\n", "rules", "must be a list of rules"),
    ("version: 1\ninclude: gvisor\n", "include", "must be a list"),
    ("version: 1\nrules: [3]\n", "rules[0]", "must be a mapping"),
    ("version: 1\nrules: [{content: x}]\n", "rules[0]", "missing 'match'"),
    ("version: 1\nrules: [{match: /a}]\n", "rules[0]", "no action"),
    ("version: 1\nrules: [{match: /a, hide: false}]\n", "rules[0].hide", "hide: false"),
    ("version: 1\nrules: [{match: /a, hide: 1}]\n", "rules[0].hide", "true or false"),
    ("version: 1\nrules: [{match: /a, content: 40}]\n", "rules[0].content", 'quote it: "40"'),
    ("version: 1\nrules: [{match: /a, content: ~}]\n", "rules[0].content", "null"),
    ("version: 1\nrules: [{match: /a, errno: eacces}]\n", "rules[0].errno", "did you mean EACCES"),
    ("version: 1\nrules: [{match: /a, errno: 0}]\n", "rules[0].errno", "1..4095"),
    ("version: 1\nrules: [{match: /a, errno: 4096}]\n", "rules[0].errno", "1..4095"),
    ("version: 1\nrules: [{match: /a, errno: true}]\n", "rules[0].errno", "boolean"),
    ("version: 1\nrules: [{match: /a, hide: true, mode: '0644'}]\n", "rules[0].mode",
     "only goes with content, from_host or list"),
    ("version: 1\nrules: [{match: /a, errno: EIO, readonly: true}]\n", "rules[0].readonly",
     "only goes with content"),
    ("version: 1\nrules: [{match: /a, content: x, mode: '0888'}]\n", "rules[0].mode", "octal"),
    ("version: 1\nrules: [{match: /a, content: x, mode: 644}]\n", "rules[0].mode",
     "ambiguous mode 644"),
    ("version: 1\nrules: [{match: /a, content: x, mode: 070000}]\n", "rules[0].mode", "0..4095"),
    ("version: 1\nrules: [{match: /a, content: x, uid: -1}]\n", "rules[0].uid", "0..4294967294"),
    ("version: 1\nrules: [{match: /a, content: x, gid: root}]\n", "rules[0].gid", "a number"),
    ("version: 1\nrules: [{match: /a/, content: x}]\n", "rules[0].match", "needs a file pattern"),
    ("version: 1\nrules: [{match: /a/, from_host: /etc/hostname}]\n", "rules[0].match",
     "needs a file pattern"),
    ("version: 1\nrules: [{match: /a, from_host: etc/x}]\n", "rules[0].from_host", "absolute"),
    ("version: 1\nrules: [{match: /a/*, redirect: /b}]\n", "rules[0].match", "not a glob"),
    ("version: 1\nrules: [{match: /a, redirect: /b/}]\n", "rules[0].redirect", "exact path"),
    ("version: 1\nrules: [{match: /a/, redirect: /b}]\n", "rules[0].redirect", "prefix"),
    ("version: 1\nrules: [{match: /a, redirect: /b*}]\n", "rules[0].redirect", "wildcards"),
    ("version: 1\nrules: [{match: /a, hide: true, only: {}}]\n", "rules[0].only", "needs exe"),
    ("version: 1\nrules: [{match: /a, hide: true, only: {exec: x}}]\n", "rules[0].only.exec",
     "did you mean exe"),
    ("version: 1\nrules: [{match: /a, hide: true, only: {comm: kube-controller-manager}}]\n",
     "rules[0].only.comm", "'kube-controller'"),
    ("version: 1\nrules: [{match: /a, hide: true, only: {exe: ''}}]\n", "rules[0].only.exe",
     "empty"),
    ("version: 1\nrules: [{match: /a, hide: true, override: yes please}]\n",
     "rules[0].override", "true or false"),
    ("version: 1\nrules: [{match: /a, generate: mountinfo, extra: [x]}]\n",
     "rules[0].extra", "content: holds the extra lines"),
    ("version: 1\nrules: [{match: /a, list: [x]}]\n", "rules[0].list",
     "must be true or false, not a list"),
    ("version: 1\nrules: [{match: /a/*/, list: true}]\n", "rules[0].match",
     "list needs one directory"),
    ("version: 1\nrules: [{match: /a, list: true, readonly: true}]\n", "rules[0].readonly",
     "only goes with content or from_host"),
    ("version: 1\nrules: [{syscall: uname, result: x}]\n", "rules[0].result",
     "unknown key 'result'"),
    ("version: 1\nrules: [{match: /a, content: x, content: y}]\n", "content", "duplicate key"),
    ("version: 1\ninclude: ['']\n", "include[0]", "must not be empty"),
    ("version: 1\nrules: [{match: \"/a\\0\", hide: true}]\n", "rules[0].match", "NUL"),
    ("version: 1\nrules: [{match: /a, content: \"\\ud800\"}]\n", "rules[0].content", "UTF-8"),
])
def test_validation_errors(body: str, key: str, msg: str) -> None:
    e = error_of(body)
    assert e.key == key
    assert msg in e.message, str(e)
    assert e.file == "t.yaml" and e.line >= 1 and e.col >= 1


def test_positions_point_at_value_and_key() -> None:
    e = error_of("version: 1\nrules:\n  - match: /a\n    hide: true\n    bogus: 1\n")
    assert (e.line, e.col) == (5, 5)
    e = error_of("version: 1\nrules:\n  - match: /a\n    content: x\n    mode: 'abc'\n")
    assert (e.line, e.col) == (5, 11)
    e = error_of("version: 1\nrules:\n  - hide: true\n")
    assert (e.line, e.col, e.key) == (3, 5, "rules[0]")


@pytest.mark.parametrize("text,msg", [
    ("", "empty file"),
    ("# only a comment\n", "empty file"),
    ("[1, 2", "YAML syntax error"),
    ("version: 1\n---\nversion: 1\n", "YAML syntax error"),
    ("a: &x [*x]\n", "recursive YAML alias"),
    ("version: 1\nrules: [{match: /a, content: !foo x}]\n", "bad YAML value"),
    ("version: 1\nrules: [{match: /a, content: !!python/object:os.system x}]\n", "YAML"),
    ("version: 1\nrules: [{match: /a, content: 2001-13-45}]\n", "bad YAML value"),
    ("version: 1\n\x00\n", "not allowed"),
    pytest.param("[" * 5000, "YAML", id="deep-nesting"),
    ("version: 1\n? [a]\n: b\n", "mapping keys must be plain words"),
])
def test_bad_yaml(text: str, msg: str) -> None:
    e = error_of(text)
    assert msg in str(e), str(e)


def test_mode_forms() -> None:
    res = load_str("""
        version: 1
        rules:
          - {match: /a, content: x, mode: "0600"}
          - {match: /b, content: x, mode: "755"}
          - {match: /c, content: x, mode: "0o640"}
          - {match: /d, content: x, mode: 0444}
          - {match: /e, content: x, mode: 0}
          - {match: /f, content: x, mode: "4755"}
    """)
    modes = {lr.rule.match: lr.rule.vfile.mode for lr in res.rules}  # type: ignore[union-attr]
    assert modes == {"/a": 0o600, "/b": 0o755, "/c": 0o640, "/d": 0o444, "/e": 0,
                     "/f": 0o4755}


def test_content_types_and_errno_numbers() -> None:
    res = load_str("""
        version: 1
        rules:
          - {match: /a, content: "é\\t\\0"}
          - {match: /b, errno: 38}
          - {match: /c, errno: EWOULDBLOCK}
          - match: /d
            content: |
              two
              lines
    """)
    got = {lr.rule.match: lr.rule for lr in res.rules}
    assert got["/a"].vfile.content == "é\t\0".encode()  # type: ignore[union-attr]
    assert got["/b"].errno == 38
    assert got["/c"].errno == errno.EAGAIN
    assert got["/d"].vfile.content == b"two\nlines\n"  # type: ignore[union-attr]


def test_yaml_merge_keys_and_anchors() -> None:
    res = load_str("""
        version: 1
        rules:
          - &base {match: /a, content: "x", only: {comm: runc}}
          - <<: *base
            match: /b
    """)
    got = {lr.rule.match: lr.rule for lr in res.rules}
    assert got["/b"].only_comm == "runc" and got["/b"].vfile.content == b"x"  # type: ignore


# ------------------------------------------------------------- duplicates, override

def test_duplicate_names_both_places() -> None:
    e = error_of("""\
        version: 1
        rules:
          - match: /proc/thread-self/x
            content: a
          - match: /proc/self//x
            errno: EIO
    """, "d.yaml")
    assert (e.file, e.line, e.col, e.key) == ("d.yaml", 5, 5, "rules[1]")
    assert "d.yaml:3:5" in str(e) and "duplicate rule" in str(e)


def test_same_pattern_different_only_is_not_duplicate() -> None:
    res = load_str("""
        version: 1
        rules:
          - {match: /a, content: x}
          - {match: /a, content: y, only: {comm: runc}}
          - {match: /a, content: z, only: {exe: "*/runc"}}
          - {match: /a, content: w, only: {exe: "*/runc", comm: runc}}
          - {match: /a/, hide: true}
    """)
    assert [lr.rule.vfile.content if lr.rule.vfile else None  # type: ignore[union-attr]
            for lr in res.rules] == [b"w", b"z", b"y", b"x", None]


def test_override_across_files(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", """\
        version: 1
        rules:
          - {match: /a, content: base}
          - {match: /b, content: base}
    """)
    top = write(tmp_path, "top.yaml", """\
        version: 1
        include: [./base.yaml]
        rules:
          - {match: /a, content: top, override: true}
          - {match: /c, content: top, override: true}
    """)
    res = load_detailed([top])
    got = {lr.rule.match: lr.rule.vfile.content for lr in res.rules}  # type: ignore[union-attr]
    assert got == {"/a": b"top", "/b": b"base", "/c": b"top"}
    assert len(res.overridden) == 1
    assert any("no other rule" in n for n in res.notes)
    # without override: an error naming both files
    bad = write(tmp_path, "bad.yaml", """\
        version: 1
        include: [base.yaml]
        rules:
          - {match: /a, content: top}
    """)
    with pytest.raises(RulesError) as ei:
        load([bad])
    assert ei.value.file == bad and ei.value.line == 4
    assert f"{tmp_path}/base.yaml:3:5" in str(ei.value)


def test_two_overrides_conflict(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "version: 1\nrules: [{match: /a, hide: true, override: true}]\n")
    b = write(tmp_path, "b.yaml", "version: 1\nrules: [{match: /a, hide: true, override: true}]\n")
    with pytest.raises(RulesError, match="only one rule may override"):
        load([a, b])


# ------------------------------------------------------------- command line

def test_cli_flags_compile_and_win(tmp_path: Path) -> None:
    f = write(tmp_path, "r.yaml", """\
        version: 1
        rules:
          - {match: /proc/sys/kernel/cap_last_cap, content: "40\\n", override: true}
          - {match: /etc/x, hide: true}
    """)
    res = load_detailed([f], fakes=["/proc/sys/kernel/cap_last_cap=38\\n"],
                        redirects=["/proc/sys/net/=/tmp/net/"], hides=["/etc/x", "/sys/y/"])
    got = {lr.rule.match: lr for lr in res.rules}
    assert got["/proc/sys/kernel/cap_last_cap"].rule.vfile.content == b"38\n"  # type: ignore
    assert str(got["/proc/sys/kernel/cap_last_cap"].origin).startswith("--fake ")
    assert got["/proc/sys/net/"].rule.target == "/tmp/net/"
    assert got["/sys/y/"].rule.kind is MatchKind.PREFIX
    assert str(got["/etc/x"].origin) == "--hide /etc/x"
    assert len(res.overridden) == 2


@pytest.mark.parametrize("kw,msg", [
    ({"fakes": ["/a"]}, "expected PATH=TEXT"),
    ({"fakes": ["a=b"]}, "absolute"),
    ({"fakes": ["/a=\\q"]}, "unknown escape \\q"),
    ({"fakes": ["/a/=x"]}, "needs a file pattern"),
    ({"redirects": ["/a/=/b"]}, "prefix"),
    ({"redirects": ["/a"]}, "expected SRC=DST"),
    ({"hides": ["rel"]}, "absolute"),
    ({"hides": ["/a", "/a/."]}, "duplicate rule"),
    ({"profiles": ["nope"]}, "unknown profile 'nope'"),
    ({"profiles": ["minimall"]}, "did you mean minimal?"),
    ({"files": ["/nonexistent/r.yaml"]}, "cannot read rules file"),
])
def test_cli_errors(kw: dict[str, list[str]], msg: str) -> None:
    with pytest.raises(RulesError) as ei:
        load_detailed(**kw)  # type: ignore[arg-type]
    assert msg in str(ei.value)
    assert "\n" not in str(ei.value)


def test_cli_error_format() -> None:
    with pytest.raises(RulesError) as ei:
        load(hides=["x/y"])
    assert str(ei.value).startswith("<command line>: --hide x/y: must be an absolute path")


@pytest.mark.parametrize("s,b", [
    ("40\\n", b"40\n"), ("a\\tb", b"a\tb"), ("\\\\", b"\\"), ("\\x41\\x4a", b"AJ"),
    ("\\x4", b"\x04"), ("\\x414", b"A4"), ("\\0", b"\0"), ("\\101\\0012", b"A\x012"),
    ("\\377", b"\xff"), ("é", "é".encode()), ("\\\"\\'", b"\"'"), ("\\e\\a", b"\x1b\x07"),
    ("plain", b"plain"), ("", b""), (os.fsdecode(b"\xff"), b"\xff"),
])
def test_parse_cli_text(s: str, b: bytes) -> None:
    assert parse_cli_text(s) == b


@pytest.mark.parametrize("s", ["\\", "abc\\", "\\x", "\\xg", "\\400", "\\q", "\\u0041"])
def test_parse_cli_text_errors(s: str) -> None:
    with pytest.raises(RulesError):
        parse_cli_text(s)


# ------------------------------------------------------------- includes and profiles

def test_includes_relative_dedupe_and_order(tmp_path: Path) -> None:
    write(tmp_path, "sub/common.yaml", "version: 1\nrules: [{match: /common, hide: true}]\n")
    write(tmp_path, "sub/a.yaml", "version: 1\ninclude: [common.yaml]\n"
          "rules: [{match: /a, hide: true}]\n")
    write(tmp_path, "sub/b.yaml", "version: 1\ninclude: [./common.yaml]\n"
          "rules: [{match: /b, hide: true}]\n")
    top = write(tmp_path, "top.yaml",
                "version: 1\ninclude: [sub/a.yaml, ./sub/b.yaml, proc-sys-basics]\n")
    res = load_detailed([top], profiles=["proc-sys-basics"])
    assert sorted(lr.rule.match for lr in res.rules) == [
        "/a", "/b", "/common", "/proc/self/setgroups", "/proc/sys/kernel/cap_last_cap"]
    assert res.sources[1] == top
    assert f"{tmp_path}/sub/common.yaml" in res.sources


def test_include_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "version: 1\ninclude: [b.yaml]\n")
    write(tmp_path, "b.yaml", "version: 1\nrules: []\ninclude:\n  - ./a.yaml\n")
    with pytest.raises(RulesError) as ei:
        load([a])
    e = ei.value
    assert e.file == f"{tmp_path}/b.yaml" and (e.line, e.col, e.key) == (4, 5, "include[0]")
    assert "include cycle:" in e.message and "a.yaml -> " in e.message


def test_self_include(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "version: 1\ninclude: [a.yaml]\n")
    with pytest.raises(RulesError, match="include cycle"):
        load([a])


def test_include_errors(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "version: 1\ninclude: [missing.yaml]\n")
    with pytest.raises(RulesError) as ei:
        load([a])
    assert (ei.value.line, ei.value.key) == (2, "include[0]")
    assert "cannot read" in str(ei.value)
    b = write(tmp_path, "b.yaml", "version: 1\ninclude: [gvisr]\n")
    with pytest.raises(RulesError, match="unknown profile 'gvisr'"):
        load([b])
    c = write(tmp_path, "c.yaml", "version: 1\ninclude: [bad.yaml]\n")
    write(tmp_path, "bad.yaml", "version: 1\nrules: [{match: /a, errno: EFOO}]\n")
    with pytest.raises(RulesError) as ei:
        load([c])
    assert ei.value.file == f"{tmp_path}/bad.yaml"


def test_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"version: 1\n# caf\xe9\n")
    with pytest.raises(RulesError) as ei:
        load([str(p)])
    assert "not UTF-8" in str(ei.value) and ei.value.line == 2
    with pytest.raises(RulesError, match="cannot read"):
        load([str(tmp_path)])


def test_shipped_profiles_load() -> None:
    from sysfake.profiles import available_profiles, find_profile

    names = available_profiles()
    assert {"minimal", "proc-sys-basics"} <= set(names)
    for n in names:
        load(profiles=[n])
        assert find_profile(n) is not None
    assert load(profiles=["minimal"]).path_rules == []
    assert find_profile("../etc/passwd") is None


def test_table_roundtrip() -> None:
    from sysfake.table import decode, encode

    rs = load_str(BRIEF).ruleset()
    back = decode(encode(rs))
    assert [(r.match, r.kind, r.action, r.target, r.errno, r.only_exe, r.only_comm)
            for r in back.path_rules] == [
        (r.match, r.kind, r.action, r.target, r.errno, r.only_exe, r.only_comm)
        for r in rs.path_rules]
