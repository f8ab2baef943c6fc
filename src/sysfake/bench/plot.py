"""PNG bar chart of the overhead ratios (needs the optional extra ``plot``)."""
from __future__ import annotations

from typing import Any


class PlotUnavailable(RuntimeError):
    pass


def write_png(doc: dict[str, Any], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise PlotUnavailable(
            "--png needs matplotlib: pip install 'sysfake[plot]' (or pip install matplotlib)"
        ) from e

    workloads = [w for w in doc["workloads"] if not w.get("skipped") and w["results"]]
    names: list[str] = []
    for w in workloads:
        for c in w["results"]:
            if c != "untraced" and c not in names:
                names.append(c)
    if not workloads or not names:
        raise PlotUnavailable("nothing to plot")

    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.6 * len(workloads) + 2), 5.5))
    for i, c in enumerate(names):
        xs, ys = [], []
        for j, w in enumerate(workloads):
            r = w["results"].get(c)
            if r and r["ratio_untraced"] is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(r["ratio_untraced"])
        ax.bar(xs, ys, width, label=c)
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([f"{w['number']}: {w['key']}" for w in workloads])
    ax.set_ylabel("wall time / untraced (paired median, log scale)")
    m = doc["machine"]
    where = "inside gVisor (runsc --platform=ptrace)" if doc["options"]["gvisor"] else "host"
    ax.set_title(f"sysfake bench, {where}: {m.get('cores')} cores, kernel "
                 f"{m.get('kernel_release')}, {doc['options']['reps']} reps", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
