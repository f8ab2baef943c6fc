"""`sysfake bench`: the overhead harness.

Runs each workload under every available contender (untraced, the floor
tracers, sysfake, PRoot, strace), interleaved and paired in one invocation,
and reports medians, paired ratios and the cost per intercepted syscall.
See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from ..argparsing import Parser, number
from . import contenders as cmod
from . import machine, report, runner
from . import workloads as wmod

__all__ = ["main"]


_positive_int = number(int, lambda n: n >= 1, "a whole number from 1")
_positive_float = number(float, lambda x: 0 < x < float("inf"), "a number above 0")
_cpu_number = number(int, lambda n: n >= 0, "a CPU number from 0")


def _parser() -> argparse.ArgumentParser:
    # one-line usage errors, as every other sysfake command gives
    p = Parser(
        prog="sysfake bench",
        description="Measure what sysfake costs, side by side with a minimal tracer "
        "(the floor), PRoot and strace.",
    )
    p.add_argument("--quick", action="store_true",
                   help="smoke version: tiny counts, 1 repetition (CI)")
    p.add_argument("--reps", type=_positive_int, default=None,
                   help="repetitions per contender (default 5, --quick 1)")
    p.add_argument("--pin", dest="pin", action="store_true", default=True,
                   help="pin tracer and tracee to one CPU (default)")
    p.add_argument("--no-pin", dest="pin", action="store_false")
    p.add_argument("--cpu", type=_cpu_number, default=None,
                   help="the CPU to pin to (default: the last one allowed)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--png", metavar="FILE",
                   help="write a bar chart of the overhead ratios (needs matplotlib)")
    p.add_argument("--gvisor", action="store_true",
                   help="run every measured command in a fresh `runsc --platform=ptrace "
                   "--network=none do` sandbox")
    p.add_argument("--scale", type=_positive_float, default=1.0,
                   help="multiply the workloads' counts (e.g. 0.05 with --gvisor)")
    p.add_argument("--workloads", metavar="LIST",
                   help="comma-separated workload numbers or names (default: all)")
    p.add_argument("--contenders", metavar="LIST",
                   help="comma-separated contenders (default: all; untraced is always run)")
    p.add_argument("--timeout", type=_positive_float, default=300,
                   help="seconds before one run is killed (default 300)")
    p.add_argument("--slow-seconds", type=_positive_float, default=20.0,
                   help="a contender whose run takes longer than this on a workload ...")
    p.add_argument("--slow-reps", type=_positive_int, default=3,
                   help="... runs only in this many repetitions of it (default 20 s, 3)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="merge result files of runs over different workloads into one "
                   "report (with --json/--png), run nothing")
    p.add_argument("--sysfake", metavar="CMD",
                   help="how to start sysfake (default: `sysfake` on PATH)")
    p.add_argument("--baseline", metavar="CMD",
                   help="another sysfake (say, an older checkout's `python -m sysfake` with "
                   "its PYTHONPATH), run side by side as the base, base-exec, base-record and "
                   "base-profile contenders")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="where the compiled helpers go (default ~/.cache/sysfake-bench)")
    p.add_argument("--proot-sc", metavar="PATH",
                   help="PRoot built with its seccomp accelerator, for the proot-sc contender "
                   "(default: CACHE/proot-5.4.0/proot, where benchmarks/build_proot.sh "
                   "puts it)")
    p.add_argument("--tracer-calls", action="store_true",
                   help="also run each tracing contender once more, untimed, under "
                   "`strace -c` and report the tracer's own syscalls per intercepted syscall")
    p.add_argument("--list", action="store_true", help="list workloads and contenders")
    p.add_argument("-v", "--verbose", action="store_true", help="print every run")
    return p


def _on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _split(option: str, s: str | None) -> list[str] | None:
    """The names in a comma-separated list; None when the option is not given.
    An empty list or name is refused: taking it as "all" would start the
    whole suite, minutes of it, on a typo."""
    if s is None:
        return None
    if not s.strip():
        raise ValueError(f"{option}: an empty list (leave the option out for all)")
    names = [x.strip() for x in s.split(",")]
    if "" in names:
        raise ValueError(f"{option} {s!r}: an empty name between commas")
    return names


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (e.g. from timeout) unwinds, so the current run's group is killed
        signal.signal(signal.SIGTERM, _on_term)
    if argv[:1] == ["--"]:  # `sysfake bench -- --quick` (argparse REMAINDER in the CLI)
        argv = argv[1:]
    args = _parser().parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:  # before anything is looked up, built or run
        ws = wmod.by_key(_split("--workloads", args.workloads))
        cnames = _split("--contenders", args.contenders)
    except ValueError as e:
        log(f"sysfake bench: {e}")
        return 2
    if args.merge:
        return _merge(args.merge, args.json, args.png, log)
    sysfake = cmod.sysfake_cmd(args.sysfake)
    cache = Path(args.cache_dir) if args.cache_dir else runner.default_cache_dir()
    proot_sc, proot_sc_note = cmod.find_proot_sc(args.proot_sc, cache)
    all_cs = cmod.all_contenders(sysfake, proot_sc, proot_sc_note,
                                 args.baseline.split() if args.baseline else None,
                                 profile=_default_profile(args.gvisor))
    if args.list:
        for w in wmod.WORKLOADS:
            print(f"workload {w.number} {w.key:9s} {w.title} (reference {w.reference})")
        for c in all_cs:
            print(f"contender {c.name:15s} {c.description}")
        return 0
    try:
        cs = cmod.select(all_cs, cnames)
    except ValueError as e:
        log(f"sysfake bench: {e}")
        return 2
    if args.gvisor and not shutil.which("runsc"):
        log("sysfake bench: --gvisor needs runsc (gVisor) on PATH")
        return 2
    if args.tracer_calls and not shutil.which("strace"):
        log("sysfake bench: --tracer-calls needs strace on PATH")
        return 2
    if not shutil.which("timeout"):
        log("sysfake bench: needs coreutils' timeout")
        return 2
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except OSError:
        allowed = [0]
    if args.cpu is not None and args.cpu not in allowed:
        log(f"sysfake bench: --cpu {args.cpu}: not one this process may run on "
            f"({', '.join(map(str, allowed))})")
        return 2
    cpu = args.cpu if args.cpu is not None else allowed[-1]
    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    opts = runner.Options(reps=reps, pin=args.pin, cpu=cpu, gvisor=args.gvisor,
                          timeout=args.timeout, verbose=args.verbose,
                          slow_seconds=args.slow_seconds, slow_reps=args.slow_reps,
                          tracer_calls=args.tracer_calls)
    try:
        floor, sfwl, gowl, go_note, cost = runner.build_tools(cache, log)
    except runner.BenchError as e:
        log(f"sysfake bench: {e}")
        return 1
    except OSError as e:  # the cache directory cannot be made or written
        log(f"sysfake bench: cannot build the helpers in {cache}: "
            f"{e.strerror or e}{f' ({e.filename})' if e.filename else ''}")
        return 1

    notes: list[str] = []
    if args.quick:
        notes.append("--quick: tiny counts and 1 repetition, a smoke test; the titles give "
                     "the full counts")
    if go_note:
        notes.append(go_note)
    started = datetime.datetime.now(datetime.timezone.utc)
    proots = {c.name: c.exe for c in all_cs if c.name.startswith("proot") and c.exe}
    host = machine.collect(proots, cost, opts.cpu if opts.pin else None)
    load_start = host.get("loadavg", [])
    if load_start and load_start[0] > 0.5:
        notes.append(f"load average {load_start[0]:.2f} at start: other work was running, "
                     "the numbers are noisy")

    # SRC/DST live under /tmp so that they are visible inside runsc's root too
    with tempfile.TemporaryDirectory(prefix="sysfake-bench-") as tmp:
        ctx = wmod.Ctx(Path(tmp), sfwl, floor, gowl, args.quick, args.scale)
        wmod.prepare_files(ctx.workdir)

        def in_env(a: list[str]) -> list[str]:
            return runner.sandbox(opts, a, timeout=120)

        for c in cs:
            cmod.probe(c, ctx, in_env)
            if not c.available:
                log(f"contender {c.name}: {c.note}")
        active = [c for c in cs if c.available]
        sandbox_machine: dict[str, Any] | None = None
        if opts.gvisor:
            sandbox_machine = runner.machine_in_sandbox(opts, proots, cost)
            if not sandbox_machine.get("in_gvisor"):
                notes.append("--gvisor: the sandbox did not look like gVisor")
        results = [runner.run_workload(ctx, opts, w, active, log) for w in ws]

    load_end = machine.loadavg()
    for c in cs:
        if c.name.startswith("proot") and c.exe:
            info = host["proots"].get(c.name, {})
            c.extra["proot"] = machine.describe_proot(info)
            if c.available and not info.get("seccomp_accelerator"):
                notes.append(f"{c.name} is {machine.describe_proot(info)}: without its "
                             "seccomp accelerator it stops at every syscall, so it is far "
                             "slower than PRoot with it")
    if opts.gvisor and sandbox_machine is not None \
            and sandbox_machine.get("process_vm_readv") is False:
        notes.append("--gvisor: process_vm_readv is missing in the sandbox, so PRoot's "
                     "process_vm accelerator falls back to PTRACE_PEEKDATA there")
    names = [c.name for c in active]
    doc: dict[str, Any] = {
        "schema": report.SCHEMA,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "argv": ["sysfake", "bench", *argv],
        "options": {"quick": args.quick, "reps": opts.reps, "pin": opts.pin, "cpu": opts.cpu,
                    "gvisor": opts.gvisor, "timeout_s": opts.timeout,
                    "scale": args.scale, "slow_seconds": opts.slow_seconds,
                    "slow_reps": opts.slow_reps, "tracer_calls": opts.tracer_calls,
                    "order": "interleaved ABAB: each repetition runs every contender in turn"},
        "machine": host,
        "sandbox_machine": sandbox_machine,
        "sysfake_cmd": sysfake,
        "loadavg_end": load_end,
        "contenders": [{"name": c.name, "description": c.description, "redirects": c.redirects,
                        "available": c.available, "note": c.note, **c.extra} for c in cs],
        "workloads": [],
        "targets": report.targets(results, _proots_compared(cs, host)),
        "notes": notes,
    }
    if args.baseline:
        doc["baseline_cmd"] = args.baseline.split()
        doc["baseline"] = report.against_baseline(results)
    for res in results:
        w = res.workload
        doc["workloads"].append({
            "key": w.key, "number": w.number, "title": w.title, "reference": w.reference,
            "idle": w.idle, "command": res.command, "intercepted_syscalls": res.intercepted,
            "skipped": res.skipped, "capped_reps": res.capped,
            "results": {} if res.skipped else report.summarise(res, names),
        })
        if res.capped:
            notes.append(f"workload {w.key}: " + ", ".join(
                f"{c} ran in {n} of {opts.reps} repetitions (slower than "
                f"{opts.slow_seconds:g} s a run)" for c, n in res.capped.items()))
    if args.scale != 1.0 and not args.quick:
        notes.append(f"--scale {args.scale:g}: the counts are the titles' counts x {args.scale:g}")
    return _output(doc, args.json, args.png, log)


def _default_profile(gvisor: bool) -> str:
    """The profile `sysfake run` with no rules picks where the workloads run
    (environment.detect_profile(); under --gvisor, inside the sandbox)."""
    if gvisor:
        return "gvisor"
    from ..environment import detect_profile
    return detect_profile()


def _proots_compared(cs: list[cmod.Contender],
                     host: dict[str, Any]) -> list[report.ProotRef]:
    """The PRoots the targets may compare against, best first: proot-sc
    (built with the seccomp accelerator the target names), then PATH's."""
    out: list[report.ProotRef] = []
    for name in ("proot-sc", "proot"):
        c = next((c for c in cs if c.name == name and c.available), None)
        if c is not None:
            info = host.get("proots", {}).get(name, {})
            out.append(report.ProotRef(name, machine.describe_proot(info),
                                       bool(info.get("seccomp_accelerator"))))
    return out


def _output(doc: dict[str, Any], json_path: str | None, png_path: str | None,
            log: Callable[[str], None]) -> int:
    report.net_of_startup(doc)
    print(report.table(doc))
    if json_path:
        report.dump(doc, json_path)
        log(f"wrote {json_path}")
    rc = 0
    if png_path:
        from .plot import PlotUnavailable, write_png

        try:
            write_png(doc, png_path)
            log(f"wrote {png_path}")
        except PlotUnavailable as e:
            log(f"sysfake bench: no PNG: {e}")
            rc = 1
    return rc


def _merge(paths: list[str], json_path: str | None, png_path: str | None,
           log: Callable[[str], None]) -> int:
    """One report from several runs over different workloads."""
    docs: list[dict[str, Any]] = []
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as e:
            log(f"sysfake bench: --merge: {p}: {e.strerror or e}")
            return 2
        except ValueError as e:  # not JSON, not UTF-8
            log(f"sysfake bench: --merge: {p}: not JSON ({e})")
            return 2
        if not isinstance(doc, dict) or doc.get("schema") != report.SCHEMA:
            log(f"sysfake bench: --merge: {p}: not a {report.SCHEMA} result file")
            return 2
        docs.append(doc)
    if len({d["options"]["gvisor"] for d in docs}) != 1:
        log("sysfake bench: --merge: cannot merge host and gVisor runs")
        return 2
    out = dict(docs[0])
    out["merged_from"] = [{"argv": d["argv"], "started": d["started"],
                           "finished": d["finished"], "loadavg_start": d["machine"]["loadavg"],
                           "loadavg_end": d["loadavg_end"]} for d in docs]
    out["finished"] = docs[-1]["finished"]
    out["loadavg_end"] = docs[-1]["loadavg_end"]
    seen_w: set[str] = set()
    out["workloads"], out["targets"], out["notes"] = [], [], []
    for d in docs:
        for w in d["workloads"]:
            if w["key"] in seen_w:
                log(f"sysfake bench: --merge: workload {w['key']} is in more than one file")
                return 2
            seen_w.add(w["key"])
            out["workloads"].append(w)
        out["targets"].extend(d["targets"])
        out["notes"].extend(n for n in d["notes"] if n not in out["notes"])
    out["workloads"].sort(key=lambda w: w["number"])
    order = {w["key"]: i for i, w in enumerate(out["workloads"])}
    out["targets"].sort(key=lambda t: order.get(t["workload"], 0))
    by_name: dict[str, dict[str, Any]] = {}
    for d in docs:
        for c in d["contenders"]:
            prev = by_name.get(c["name"])
            if prev is None or (c["available"] and not prev["available"]):
                by_name[c["name"]] = c
    out["contenders"] = list(by_name.values())
    return _output(out, json_path, png_path, log)
