"""The benchmark report's arithmetic (src/sysfake/bench/report.py) on given
run times: a target's value and the spread of its repetitions."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sysfake.bench import report
from sysfake.bench.runner import Run, WorkloadResult
from sysfake.bench.workloads import by_key

# per repetition: untraced, a and b times, a and b at least 1% above untraced
reps = st.lists(st.tuples(st.floats(0.1, 10.0), st.floats(1.01, 30.0), st.floats(1.01, 30.0)),
                min_size=2, max_size=9)


def _result(times: list[tuple[float, float, float]]) -> WorkloadResult:
    res = WorkloadResult(by_key(["stat"])[0], ["true"], 1000)
    for i, (u, ka, kb) in enumerate(times):
        for name, s in (("untraced", u), ("a", u * ka), ("b", u * kb)):
            res.runs.append(Run(name, i, s, 0, "dst", True, ""))
    return res


@settings(max_examples=300, deadline=None)
@given(reps)
def test_the_value_lies_within_its_repetitions(times: list[tuple[float, float, float]]) -> None:
    res = _result(times)
    v = report.overhead_ratio(res, "a", "b")
    sp = report.spread(report.per_rep(res, "a", "b"))
    assert v is not None and sp is not None
    assert sp[0] - 1e-3 <= v <= sp[1] + 1e-3
    tv = report.paired_between(res, "a", "b")
    tsp = report.spread(report.per_rep(res, "a", "b", time=True))
    assert tv is not None and tsp is not None
    assert tsp[0] - 1e-3 <= tv <= tsp[1] + 1e-3


def test_each_repetition_stands_alone() -> None:
    # rep 0: a's overhead 1.0 over b's 0.5; rep 1: 3.0 over 1.0; a failed
    # run (rep 2) and a repetition where b cost nothing (rep 3) count not
    res = _result([(1.0, 2.0, 1.5), (2.0, 4.0, 2.0), (1.0, 5.0, 2.0), (1.0, 2.0, 1.0)])
    res.runs[7] = Run("a", 2, None, 1, None, False, "", "failed")
    assert report.per_rep(res, "a", "b") == [2.0, 3.0]
    assert report.spread([2.0, 3.0]) == [2.0, 3.0]
    assert report.spread([2.0]) is None


def test_a_workload_nothing_stops_is_judged_by_time_against_the_floor() -> None:
    # recv: overheads near zero make ratios of them noise (the floor's 2%
    # against sysfake's 1% would read 0.5), so its targets are time ÷ floor
    res = WorkloadResult(by_key(["recv"])[0], ["true"], 8)
    times = {"untraced": 1.00, "floor": 1.02, "sysfake": 1.20, "sysfake-exec": 1.03,
             "sysfake-record": 1.25, "proot-sc": 1.02}
    for rep in range(3):
        for name, s in times.items():
            res.runs.append(Run(name, rep, s, 0, "dst", True, ""))
    rows = report.targets([res], [])
    assert {r["who"]: (r["value"], r["status"]) for r in rows} == {
        "sysfake": (round(1.20 / 1.02, 3), "missed"),
        "sysfake-exec": (round(1.03 / 1.02, 3), "met"),
        "sysfake-record": (round(1.25 / 1.02, 3), "missed"),
    }
    assert all(r["target"].endswith("within 3% of the floor (no stop)") for r in rows)
    # getppid keeps the overhead bounds beside its time target
    res.workload = by_key(["getppid"])[0]
    kinds = {r["target"] for r in report.targets([res], [])}
    assert "workload 2 within 3% of the floor" in kinds
    assert "sysfake overhead <= 1.15 x floor overhead" in kinds
