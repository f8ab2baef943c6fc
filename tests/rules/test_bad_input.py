"""Bad input found by a soak of the rules layer: each gets one positioned line
(FILE:LINE:COL: key: message, exit status 2) from every command that reads rules,
never a failure later (at run time) or a message that names no place."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import describe, run_sysfake

from .helpers import error_of, write

LONG = "a" * 5000
MAX_PATH = 4095


def _commands(rules: str, out: Path) -> list[list[str]]:
    """Every command that loads rules, each given the file `rules`."""
    return [["check", rules], ["run", "--rules", rules, "--", "true"],
            ["compile", "--rules", rules, "--output", str(out)],
            ["explain", "/x", "--rules", rules]]


def _one_error(args: list[str]) -> str:
    res = run_sysfake(args)
    assert res.returncode == 2, (args[0], res.returncode, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# ---------------------------------------------------------------- 1. path lengths

@pytest.mark.parametrize("body,where", [
    (f"  - match: /x\n    redirect: /{LONG}\n", "4:15: rules[0].redirect"),
    (f"  - match: /{LONG}\n    list: true\n", "3:12: rules[0].match"),
    (f"  - match: /{'/'.join(['abc'] * 2000)}\n    content: x\n", "3:12: rules[0].match"),
    (f"  - match: /{LONG}\n    hide: true\n", "3:12: rules[0].match"),
    (f"  - match: /x\n    from_host: /{LONG}\n", "4:16: rules[0].from_host"),
    (f"  - match: /{'a' * 4094}/\n    errno: EIO\n", "3:12: rules[0].match"),
    # 4095 bytes as written, but the table holds /a...a*/** (4097)
    (f"  - match: /{'a' * 4092}*/\n    errno: EIO\n", "3:12: rules[0].match"),
    (f"  - syscall: openat\n    path: /{LONG}\n    errno: EIO\n", "4:11: rules[0].path"),
    (f"  - syscall: fchown\n    path: pipe:{LONG}\n    errno: EIO\n", "4:11: rules[0].path"),
], ids=["redirect", "list", "2000-components", "hide", "from_host", "prefix", "glob",
        "syscall-path", "syscall-pipe"])
def test_overlong_path_in_file(tmp_path: Path, body: str, where: str) -> None:
    rules = write(tmp_path, "long.yaml", "version: 1\nrules:\n" + body)
    for args in _commands(rules, tmp_path / "out"):
        line = _one_error(args)
        assert line == f"sysfake: {rules}:{where}: longer than {MAX_PATH} bytes " \
                       "(Linux's PATH_MAX, and the longest path the tracer handles)", args[0]


@pytest.mark.parametrize("flag,arg", [
    ("--redirect", f"/a=/{LONG}"), ("--redirect", f"/{LONG}=/a"),
    ("--fake", f"/{LONG}=x"), ("--hide", f"/{LONG}"),
], ids=["redirect-target", "redirect-source", "fake", "hide"])
def test_overlong_path_in_flag(tmp_path: Path, flag: str, arg: str) -> None:
    for args in (["run", flag, arg, "--", "true"],
                 ["compile", flag, arg, "--output", str(tmp_path / "out")],
                 ["explain", "/x", flag, arg]):
        line = _one_error(args)
        assert line.startswith(f"sysfake: <command line>: {flag} /a"), line
        assert line.endswith(f"... ({len(arg)} characters): longer than {MAX_PATH} bytes "
                             "(Linux's PATH_MAX, and the longest path the tracer handles)")
        assert len(line) < 300  # the 5000 characters are not echoed


def test_longest_paths_run(tmp_path: Path) -> None:
    """At the limit itself the table is good and the command runs."""
    rules = write(tmp_path, "edge.yaml", f"""\
        version: 1
        rules:
          - match: /{'a' * (MAX_PATH - 1)}
            list: true
          - match: /{'b' * (MAX_PATH - 2)}/
            redirect: /{'d' * (MAX_PATH - 2)}/
          - match: /x
            redirect: /{'e' * (MAX_PATH - 1)}
        """)
    res = run_sysfake(["run", "--rules", rules, "--redirect", f"/y=/{'f' * (MAX_PATH - 1)}",
                       "--", "true"])
    assert (res.returncode, res.stderr) == (0, "")


# ---------------------------------------------------------------- 2. version

@pytest.mark.parametrize("body,where,msg", [
    ('version: "1"\n', "1:10: version",
     "must be the number 1, not the string '1': write version: 1, without quotes"),
    ("version: 1.0\n", "1:10: version", "must be the number 1, not the number 1.0"),
    ("version: true\n", "1:10: version", "must be the number 1, not the boolean true"),
    ("version: 2\n", "1:10: version", "unsupported version 2: this sysfake reads version 1"),
    ("version: 1\ncgroupfs: {version: '1'}\n", "2:21: cgroupfs.version",
     "must be the number 1, not the string '1': write version: 1, without quotes"),
    ("version: 1\ncgroupfs: {version: 1.0}\n", "2:21: cgroupfs.version",
     "must be the number 1, not the number 1.0"),
], ids=["string", "float", "bool", "two", "cgroupfs-string", "cgroupfs-float"])
def test_version_is_the_integer_1(body: str, where: str, msg: str) -> None:
    assert str(error_of(body, "v.yaml")) == f"v.yaml:{where}: {msg}"


def test_version_string_from_the_cli(tmp_path: Path) -> None:
    rules = write(tmp_path, "v.yaml", 'version: "1"\n')
    assert _one_error(["check", rules]) == (
        f"sysfake: {rules}:1:10: version: must be the number 1, not the string '1': "
        "write version: 1, without quotes")


# ---------------------------------------------------------------- 3. include depth

def _chain(tmp: Path, n: int) -> str:
    """main.yaml includes inc/d1.yaml, which includes d2.yaml, ... down to dN.yaml."""
    for i in range(1, n + 1):
        more = f"include: [d{i + 1}.yaml]\n" if i < n else "rules: [{match: /deep, hide: true}]\n"
        write(tmp, f"inc/d{i}.yaml", "version: 1\n" + more)
    return write(tmp, "main.yaml", "version: 1\ninclude: [inc/d1.yaml]\n")


def test_include_chain_of_32_loads(tmp_path: Path) -> None:
    res = run_sysfake(["check", _chain(tmp_path, 32)])
    assert res.returncode == 0, res.stderr
    assert "ok: 1 rule from 33 files" in res.stdout


@pytest.mark.parametrize("n", [33, 3000])
def test_include_chain_too_deep(tmp_path: Path, n: int) -> None:
    main = _chain(tmp_path, n)
    d32 = str(tmp_path / "inc" / "d32.yaml")
    d33 = str(tmp_path / "inc" / "d33.yaml")
    assert _one_error(["check", main]) == (
        f"sysfake: {d32}:2:11: include[0]: includes nested more than 32 levels deep "
        f"(from {main}); {d33} is not read")


# ---------------------------------------------------------------- 4. aliases

def test_duplicate_through_an_alias_names_the_alias() -> None:
    e = error_of("""\
        version: 1
        rules:
          - &r {match: /a, content: x}
          - match: /b
            hide: true
          - *r
        """, "r.yaml")
    assert str(e) == ("r.yaml:6:5: rules[2]: duplicate rule: an exact path /a is also defined "
                      "at r.yaml:3:5; remove one, or mark the one that should win override: true")


def test_aliased_scalar_error_names_the_alias() -> None:
    e = error_of("""\
        version: 1
        rules:
          - match: /a
            errno: &n 5
          - match: *n
            hide: true
        """, "s.yaml")
    assert str(e) == (
        "s.yaml:5:12: rules[1].match: must be a path pattern, not the integer 5 (quote it: \"5\")")


@pytest.mark.parametrize("body,error", [
    # a key of what an alias stands for
    ("  - {match: /a, hide: true, only: &o {exe: /bin/x}}\n"
     "  - syscall: mount\n    return: 0\n    args: *o\n",
     "6:11: rules[1].args.exe: argument index must be 0..5 (0 is the first argument), "
     "not 'exe' (in the anchor &o, at 3:39)"),
    # a key merged in with <<
    ("  - syscall: mount\n    args: &a {3: MS_BIND}\n    return: 0\n"
     "  - match: /b\n    hide: true\n    <<: *a\n",
     "8:9: rules[1].3: unknown key '3'; allowed: match, content, from_host, redirect, hide, "
     "errno, list, readonly, mode, uid, gid, generate, only, override, id "
     "(in the anchor &a, at 4:15)"),
    # an anchor that uses another
    ("  - {match: /a, hide: true, only: &inner {exe: /bin/x}}\n"
     "  - match: /b\n    hide: true\n    only: &outer\n      <<: *inner\n"
     "  - {syscall: mount, return: 0, args: *outer}\n",
     "8:39: rules[2].args.exe: argument index must be 0..5 (0 is the first argument), "
     "not 'exe' (in the anchor &inner, at 3:43, which the anchor &outer uses at 7:11)"),
], ids=["alias", "merge", "chain"])
def test_an_error_through_an_alias_names_the_alias_and_the_anchor(tmp_path: Path, body: str,
                                                                   error: str) -> None:
    """An error inside what an alias stands for was put at the anchor, in
    another rule than the one its key names: it is put at the alias, and
    names the anchor and the place in it."""
    rules = write(tmp_path, "a.yaml", "version: 1\nrules:\n" + body)
    for args in _commands(rules, tmp_path / "out"):
        assert _one_error(args) == f"sysfake: {rules}:{error}", args[0]


def test_recursive_alias_still_refused() -> None:
    assert str(error_of("version: 1\nrules: &a [*a]\n", "c.yaml")) == \
        "c.yaml:2:12: recursive YAML alias"



@pytest.mark.parametrize("body,where", [
    ("rules: " + "[" * 2000 + "]" * 2000 + "\n", "2:72"),
    ("rules:\n" + "".join("  " * i + "- \n" for i in range(1, 2000)), "67:131"),
], ids=["flow", "block"])
def test_deep_nesting_names_the_line_where_it_passes_the_limit(tmp_path: Path, body: str,
                                                               where: str) -> None:
    """2000 nested lists overflowed PyYAML's recursive composer: the error
    ("YAML nesting too deep") named the file and no line."""
    rules = write(tmp_path, "deep.yaml", "version: 1\n" + body)
    for args in _commands(rules, tmp_path / "out"):
        assert _one_error(args) == f"sysfake: {rules}:{where}: YAML nesting deeper than 64 " \
                                   "levels", args[0]


# ---------------------------------------------------------------- 5. when: ordinals

@pytest.mark.parametrize("when,words", [
    ("1..+2", "every 2nd call from the 1st on"),
    ("3..+4", "every 4th call from the 3rd on"),
    ("12..+2", "every 2nd call from the 12th on"),
    ("13..+21", "every 21st call from the 13th on"),
    ("22..+23", "every 23rd call from the 22nd on"),
    ("111..+101", "every 101st call from the 111th on"),
])
def test_when_hint_ordinals(when: str, words: str) -> None:
    e = error_of(f"""\
        version: 1
        rules:
          - syscall: chdir
            when: "{when}"
            errno: ENOENT
        """)
    first, step = when.split("..+")
    assert e.message == (f"{when!r} is ambiguous: strace reads it as {first}..{step}; write "
                         f"{first}+{step} for {words}, or {first}..{step}")


# ---------------------------------------------------------------- 6. an empty file name

@pytest.mark.parametrize("args", [["check", ""], ["run", "--rules", "", "--", "true"],
                                  ["explain", "/x", "--rules", ""]],
                         ids=["check", "run", "explain"])
def test_empty_file_name_is_named(args: list[str]) -> None:
    assert _one_error(args) == \
        "sysfake: cannot read rules file '': No such file or directory"


# ---------------------------------------------------------------- 7. explain --comm

def test_explain_refuses_a_comm_no_process_has() -> None:
    assert _one_error(["explain", "/x", "--comm", "averyveryverylongname"]) == (
        "sysfake: <command line>: --comm averyveryverylongname: the kernel keeps only 15 "
        "bytes of a command name; 'averyveryverylongname' is seen as 'averyveryverylo'")


def test_explain_takes_a_comm_of_15_bytes() -> None:
    res = run_sysfake(["explain", "/x", "--comm", "averyveryverylo"])
    assert res.returncode == 0, res.stderr
    assert "comm=averyveryverylo" in res.stdout


def test_check_and_explain_print_a_path_on_its_line(tmp_path: Path) -> None:
    """A rule's path may hold a newline or a byte that is not UTF-8: check and
    explain escape it, so each rule stays one line."""
    f = tmp_path / "r.yaml"
    f.write_text('version: 1\nrules:\n  - {match: "/proc/a\\nb", content: x}\n'
                 '  - {match: "/proc/\\udcff", content: y}\n')
    res = run_sysfake(["check", str(f)])
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert len(lines) == 3 and "/proc/a\\nb" in lines[0] and "/proc/\\xff" in lines[1], lines
    res = run_sysfake(["explain", "/proc/a\nb", "--rules", str(f)])
    assert res.returncode == 0, describe(res)
    assert res.stdout.splitlines()[:2] == [
        "path: /proc/a\\nb", f"decided by: {f}:3:5 rules[0]: exact /proc/a\\nb"], res.stdout


def test_check_aligns_its_columns_on_the_escaped_text(tmp_path: Path) -> None:
    """check measured its columns on the raw text and printed it escaped: a
    path, an origin or a syscall rule's path with a control character pushed
    the columns after it out of line."""
    d = tmp_path / "a\nb"
    d.mkdir()
    f = d / "r.yaml"
    f.write_text('version: 1\nrules:\n  - {match: "/a\\x01\\x02\\x03b", hide: true}\n'
                 '  - {match: /abcdefgh, hide: true}\n'
                 '  - {syscall: statfs, path: "/q\\x01", errno: EIO}\n'
                 '  - {syscall: fstatfs, errno: EIO}\n')
    res = run_sysfake(["check", str(f)])
    assert res.returncode == 0, describe(res)
    where = f"{tmp_path}/a\\nb/r.yaml"
    assert res.stdout.splitlines()[:4] == [
        f"1  {where}:3:5  exact  /a\\x01\\x02\\x03b  hide (ENOENT)",
        f"2  {where}:4:5  exact  /abcdefgh        hide (ENOENT)",
        f"3  {where}:5:5  syscall  statfs path arg0 exact /q\\x01  "
        "fail with EIO (5, Input/output error)",
        f"4  {where}:6:5  syscall  fstatfs                        "
        "fail with EIO (5, Input/output error)"], res.stdout
