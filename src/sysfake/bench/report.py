"""Turn runs into numbers: medians, paired ratios, cost per syscall, targets."""
from __future__ import annotations

import json
import statistics
from typing import Any

from ..datatype import datatype
from . import tracer_calls
from .runner import Run, WorkloadResult

SCHEMA = "sysfake-bench/1"


@datatype(frozen=True)
class ProotRef:
    """A PRoot contender the PRoot target may compare against."""

    name: str  # contender name: proot-sc or proot
    what: str  # "PRoot 5.4.0 (process_vm=yes, seccomp_filter=yes)"
    seccomp: bool  # built with the seccomp accelerator the target names


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _times(runs: list[Run]) -> dict[int, float]:
    """Repetition -> seconds, for the runs that went fine."""
    return {r.rep: r.seconds for r in runs if r.ok and r.seconds}


def _paired(a: list[Run], b: list[Run]) -> list[float]:
    """t_a / t_b for the repetitions where both ran fine."""
    ta, tb = _times(a), _times(b)
    return [s / tb[rep] for rep, s in ta.items() if rep in tb]


def _runs(res: WorkloadResult, name: str) -> list[Run]:
    return [r for r in res.runs if r.contender == name]


def _rnd(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(x, n)


def summarise(res: WorkloadResult, contenders: list[str]) -> dict[str, Any]:
    w = res.workload
    by: dict[str, list[Run]] = {c: [r for r in res.runs if r.contender == c] for c in contenders}
    base = by.get("untraced", [])
    ref = by.get(w.reference, [])
    base_med = _median([r.seconds for r in base if r.ok and r.seconds is not None])
    out: dict[str, Any] = {}
    for c in contenders:
        runs = by[c]
        if not runs:
            continue
        secs = [r.seconds for r in runs if r.ok and r.seconds is not None]
        med = _median(secs)
        ratios = _paired(runs, base)
        vs_ref = _paired(runs, ref) if ref else []
        per_sc: float | None = None
        # only meaningful where the workload is mostly intercepted syscalls
        n_sc = res.intercepted or 0
        if med is not None and base_med is not None and n_sc >= 100:
            per_sc = (med - base_med) / n_sc * 1e6
        seen = sorted({r.seen or "nothing" for r in runs})
        out[c] = {
            "ok_runs": len(secs),
            "runs": len(runs),
            "median_s": _rnd(med),
            "min_s": _rnd(min(secs)) if secs else None,
            "max_s": _rnd(max(secs)) if secs else None,
            "ratio_untraced": _rnd(_median(ratios), 3),
            "ratio_untraced_min": _rnd(min(ratios), 3) if ratios else None,
            "ratio_untraced_max": _rnd(max(ratios), 3) if ratios else None,
            "ratio_reference": _rnd(_median(vs_ref), 3),
            "us_per_intercepted_syscall": _rnd(per_sc, 2),
            "seen": seen,
            "result_line": next((r.line for r in runs if r.ok), runs[-1].line),
            "errors": sorted({r.error for r in runs if r.error}),
            "times_s": [_rnd(r.seconds) for r in runs],
        }
        if c in res.tracer_calls:
            out[c]["tracer_calls"] = res.tracer_calls[c]
    return out


def net_of_startup(doc: dict[str, Any]) -> None:
    """Add the cost per intercepted syscall net of each contender's fixed
    start-up cost (from workload 0), where both are known."""
    start = next((w for w in doc["workloads"] if w["key"] == "startup" and w["results"]), None)
    if start is None:
        return
    s_base = start["results"].get("untraced", {}).get("median_s")
    for w in doc["workloads"]:
        n = w.get("intercepted_syscalls") or 0
        base = w["results"].get("untraced", {}).get("median_s")
        for name, r in w["results"].items():
            s = start["results"].get(name, {}).get("median_s")
            if w is start or n < 100 or None in (s, s_base, base, r["median_s"]):
                r["us_per_intercepted_syscall_net_startup"] = None
                continue
            extra = (r["median_s"] - base) - (s - s_base)
            r["us_per_intercepted_syscall_net_startup"] = round(extra / n * 1e6, 2)


def paired_between(res: WorkloadResult, a: str, b: str) -> float | None:
    ra, rb = _runs(res, a), _runs(res, b)
    return _median(_paired(ra, rb)) if ra and rb else None


def paired_overhead(res: WorkloadResult, a: str) -> float | None:
    """Paired median of t(a)/t(untraced), minus one: the issue's "overhead"."""
    v = paired_between(res, a, "untraced")
    return None if v is None else v - 1.0


def overhead_ratio(res: WorkloadResult, a: str, b: str) -> float | None:
    """a's overhead over b's (None where b costs nothing measurable)."""
    oa, ob = paired_overhead(res, a), paired_overhead(res, b)
    if oa is None or ob is None or ob <= 0.0:
        return None
    return max(oa, 0.0) / ob


def per_rep(res: WorkloadResult, a: str, b: str, time: bool = False) -> list[float]:
    """A target's value in each repetition alone: a's overhead over b's (each
    against that repetition's untraced run), or t(a)/t(b) where ``time``. A
    repetition where b costs nothing measurable has none."""
    if time:
        return _paired(_runs(res, a), _runs(res, b))
    ta, tb, tu = (_times(_runs(res, n)) for n in (a, b, "untraced"))
    return [max(s / tu[rep] - 1.0, 0.0) / (tb[rep] / tu[rep] - 1.0)
            for rep, s in ta.items() if rep in tb and rep in tu and tb[rep] / tu[rep] > 1.0]


def spread(xs: list[float]) -> list[float] | None:
    """[lowest, highest] of the repetitions' values (None below two): where a
    target's value sits in its own noise. Where every run was fine and b's
    overhead is positive in each repetition, the value (a ratio of paired
    medians) lies inside it, a median being monotone in each element."""
    return [round(min(xs), 3), round(max(xs), 3)] if len(xs) >= 2 else None


def _ran(res: WorkloadResult, name: str) -> bool:
    return any(r.ok for r in res.runs if r.contender == name)


def _status(v: float | None, limit: float) -> str:
    if v is None:
        return "n/a"
    return "met" if v <= limit else "missed"


def targets(results: list[WorkloadResult], proots: list[ProotRef]) -> list[dict[str, Any]]:
    """The issue's targets, reported, never asserted.

    ``proots``: the PRoot contenders that ran, best first (proot-sc, built
    with the seccomp accelerator the target names, before PATH's proot)."""
    out: list[dict[str, Any]] = []
    for res in results:
        if res.skipped or res.workload.key == "startup":
            continue
        w = res.workload
        if w.idle:
            out.extend(_idle_targets(res))
            continue
        # sysfake-exec: the same core started without Python (sysfake compile)
        for who in ("sysfake", "sysfake-exec"):
            if who != "sysfake" and not _ran(res, who):
                continue
            if w.key == "getppid":
                label = "" if who == "sysfake" else f" ({who})"
                out.append(_within_floor(res, who, f"workload 2 within 3% of the floor{label}"))
            # the issue bounds overheads (traced/untraced - 1), not times
            v = overhead_ratio(res, who, w.reference)
            out.append({"target": f"{who} overhead <= 1.15 x {w.reference} overhead",
                        "workload": w.key, "who": who, "value": _rnd(v, 3), "limit": 1.15,
                        "status": _status(v, 1.15),
                        "spread": spread(per_rep(res, who, w.reference)),
                        "measure": f"({who} overhead)/({w.reference} overhead), paired medians"})
            out.append(_proot_target(res, proots, who))
        v = overhead_ratio(res, "sysfake-record", "sysfake")
        out.append({"target": "record overhead <= 1.3 x plain sysfake overhead",
                    "workload": w.key, "who": "sysfake-record", "value": _rnd(v, 3),
                    "limit": 1.3, "status": _status(v, 1.3),
                    "spread": spread(per_rep(res, "sysfake-record", "sysfake")),
                    "measure": "(sysfake-record overhead)/(sysfake overhead), paired medians"})
    return out


def _within_floor(res: WorkloadResult, who: str, label: str) -> dict[str, Any]:
    v = paired_between(res, who, "floor")
    return {"target": label, "workload": res.workload.key, "who": who, "value": _rnd(v, 3),
            "limit": 1.03, "status": _status(v, 1.03),
            "spread": spread(per_rep(res, who, "floor", time=True)),
            "measure": f"paired median t({who})/t(floor)"}


def _idle_targets(res: WorkloadResult) -> list[dict[str, Any]]:
    """A workload nothing traps under a redirect: each sysfake within 3% of
    the floor's time, as workload 2 (the issue's first target)."""
    return [_within_floor(res, who, f"{who} within 3% of the floor (no stop)")
            for who in ("sysfake", "sysfake-exec", "sysfake-record")
            if who == "sysfake" or _ran(res, who)]


def against_baseline(results: list[WorkloadResult]) -> list[dict[str, Any]]:
    """With --baseline: each sysfake contender's overhead and time over its
    base's, paired in the same run (below 1: this sysfake costs less)."""
    out: list[dict[str, Any]] = []
    for res in results:
        if res.skipped:
            continue
        for who, base in (("sysfake", "base"), ("sysfake-exec", "base-exec"),
                          ("sysfake-record", "base-record"), ("sysfake-profile", "base-profile")):
            if not (_ran(res, who) and _ran(res, base)):
                continue
            out.append({"workload": res.workload.key, "who": who, "base": base,
                        "overhead_ratio": _rnd(overhead_ratio(res, who, base), 3),
                        "time_ratio": _rnd(paired_between(res, who, base), 3)})
    return out


def _proot_target(res: WorkloadResult, proots: list[ProotRef],
                  who: str = "sysfake") -> dict[str, Any]:
    """who's overhead <= 0.8 x the overhead of PRoot with seccomp, against
    the best PRoot that ran on this workload."""
    w = res.workload
    ref = next((p for p in proots if _ran(res, p.name)), None)
    t: dict[str, Any] = {"target": f"{who} <= 0.8 x PRoot-with-seccomp", "workload": w.key,
                         "who": who, "limit": 0.8}
    if ref is None:
        t.update(value=None, status="n/a", compared=None,
                 measure=f"({who} overhead)/(PRoot overhead): no PRoot ran")
        return t
    v = overhead_ratio(res, who, ref.name)
    t.update(value=_rnd(v, 3), compared=ref.name, proot=ref.what,
             spread=spread(per_rep(res, who, ref.name)),
             measure=f"(t({who})/t(untraced) - 1) / (t({ref.name})/t(untraced) - 1), "
                     "paired medians",
             time_ratio=_rnd(paired_between(res, who, ref.name), 3))
    if ref.seccomp:
        t["status"] = _status(v, 0.8)
    else:
        t["status"] = "n/a"
        t["note"] = (f"compared against {ref.name}, {ref.what}: built without its seccomp "
                     "accelerator, a slower PRoot than the target names (build proot-sc "
                     "with benchmarks/build_proot.sh)")
    return t


def _fmt(x: float | None, spec: str) -> str:
    if x is None:
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return "-".rjust(int(width) if width else 1)
    return format(x, spec)


def table(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    m = doc["machine"]
    where = "inside gVisor" if doc["options"]["gvisor"] else "host"
    lines.append(f"sysfake bench ({where}): {m.get('cpu_model')}, {m.get('cores')} cores, "
                 f"kernel {m.get('kernel_release')}, reps={doc['options']['reps']}, "
                 f"scale={doc['options'].get('scale', 1)}, "
                 f"pin={'cpu ' + str(doc['options']['cpu']) if doc['options']['pin'] else 'off'}")
    sb = doc.get("sandbox_machine")
    for label, facts in (("", m), (" inside the sandbox", sb or {})):
        if facts.get("python_startup_s") is not None:
            lines.append(f"python start-up{label} (this interpreter, nothing run): "
                         f"{facts['python_startup_s'] * 1000:.0f} ms, "
                         f"{facts.get('python_startup_nosite_s', 0) * 1000:.0f} ms "
                         "without site (-S)")
    if sb:
        lines.append(f"sandbox: kernel {sb.get('kernel_release')}, in_gvisor={sb.get('in_gvisor')}"
                     f" ({'; '.join(sb.get('gvisor_evidence', []))})")
    for label, facts in (("host", m), ("sandbox", sb or {})):
        cost = facts.get("tracer_syscall_us")
        if cost and "error" not in cost:
            lines.append(f"one tracer syscall ({label}; one word of a stopped tracee): "
                         + ", ".join(f"{k} {_fmt(cost.get(k), '.1f')} us" for k in
                                     ("pread_proc_mem", "peekdata", "process_vm_readv")))
            if "seccomp_stop" in cost:
                lines.append(f"one call handed to a supervisor ({label}; getppid, answered at "
                             f"once, beyond the call): ptrace seccomp stop "
                             f"{_fmt(cost.get('seccomp_stop'), '.1f')} us, seccomp user "
                             f"notification {_fmt(cost.get('user_notif'), '.1f')} us")
    for c in doc["contenders"]:
        if not c["available"]:
            lines.append(f"  - {c['name']}: {c['note']}")
    for w in doc["workloads"]:
        lines.append("")
        head = f"[{w['number']}] {w['key']}: {w['title']}"
        if w.get("skipped"):
            lines.append(f"{head}: skipped ({w['skipped']})")
            continue
        lines.append(f"{head}  (reference {w['reference']}, "
                     f"{w['intercepted_syscalls'] or '?'} intercepted syscalls)")
        lines.append(f"  {'contender':15s} {'median s':>9s} {'min-max s':>17s} "
                     f"{'x untraced':>10s} {'(min-max)':>13s} {'x ref':>6s} "
                     f"{'us/sc':>7s} {'net':>7s}  seen")
        for name, s in w["results"].items():
            mm = f"{_fmt(s['min_s'], '.3f')}-{_fmt(s['max_s'], '.3f')}"
            rr = f"{_fmt(s['ratio_untraced_min'], '.2f')}-{_fmt(s['ratio_untraced_max'], '.2f')}"
            flag = "ok" if not s["errors"] else "FAILED: " + s["errors"][0]
            lines.append(f"  {name:15s} {_fmt(s['median_s'], '9.3f')} {mm:>17s} "
                         f"{_fmt(s['ratio_untraced'], '10.2f')} {rr:>13s} "
                         f"{_fmt(s['ratio_reference'], '6.2f')} "
                         f"{_fmt(s['us_per_intercepted_syscall'], '7.2f')} "
                         f"{_fmt(s.get('us_per_intercepted_syscall_net_startup'), '7.2f')}  "
                         f"{','.join(s['seen'])} {flag}")
        counted = [(n, s["tracer_calls"]) for n, s in w["results"].items() if "tracer_calls" in s]
        if counted:
            lines.append("  tracer syscalls per intercepted syscall (one untimed run under "
                         "strace -c, the tracer process only):")
            lines.extend(tracer_calls.line(n, tc) for n, tc in counted)
    lines.append("")
    lines.append("targets (reported, not asserted):")
    notes: list[str] = []
    missing = 0
    for t in doc["targets"]:
        if t["value"] is None:
            missing += 1
            continue
        vs = f" (vs {t['compared']})" if t.get("compared") else ""
        sp = t.get("spread")
        reps = f"  [reps {sp[0]:.3f}-{sp[1]:.3f}]" if sp else ""
        lines.append(f"  {t['workload']:9s} {t['target']:50s} {t['value']:7.3f} "
                     f"<= {t['limit']}: {t['status']}{vs}{reps}")
        if t.get("note") and t["note"] not in notes:
            notes.append(t["note"])
    if missing:
        lines.append(f"  ({missing} target rows n/a: a contender they compare was not measured)")
    if doc.get("baseline"):
        lines.append("")
        lines.append("against the baseline (paired in this run; below 1: cheaper than the base):")
        for b in doc["baseline"]:
            lines.append(f"  {b['workload']:9s} {b['who']:15s} ÷ {b['base']:12s} "
                         f"overhead {_fmt(b['overhead_ratio'], '6.3f')}  "
                         f"time {_fmt(b['time_ratio'], '6.3f')}")
    compared = sorted({f"{t['compared']} = {t['proot']}" for t in doc["targets"]
                       if t.get("compared") and t.get("proot")})
    if compared:
        lines.append("  PRoot compared: " + "; ".join(compared))
    lines.extend(f"  [{n}]" for n in notes)
    for n in doc.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


def dump(doc: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
