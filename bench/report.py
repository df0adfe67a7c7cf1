"""report.py - PNG charts of the benchmark results (make bench-report).

    /usr/bin/python3 bench/report.py

Reads build/bench/results.jsonl (BENCH_RESULTS), keeps the latest line of
each benchmark, and draws one chart per area into build/bench/
(BENCH_REPORT_DIR): bench-<area>.png, a group of bars per benchmark, one bar
for cio and one for each peer, in the order bench/<area>.py lists them
(benchmarks no area lists go to bench-other.png).  Benchmarks whose units
cannot share an axis (ns per operation, seconds, bytes, msgs/s) get panels
of their own, each titled with its unit and whether lower or higher is
better; a panel whose values span more than a factor of 20 is drawn on a
log scale.  cio's target, where bench/<area>.py gives one, is a dashed line.

From build/bench/compare.jsonl (BENCH_COMPARE), written by make
bench-compare, it draws compare.png: for the latest pair of revisions
compared, each benchmark's change from base to now, as a bar that points
right when cio got better (whichever way the unit counts), coloured when it
passes the threshold (BENCH_THRESHOLD, default 5%).

Needs Debian's python3-matplotlib (scripts/deps.sh report installs it).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

import lib  # noqa: E402

THRESHOLD = float(os.environ.get("BENCH_THRESHOLD", "5"))
LOG_SPAN = 20  # max/min of a panel beyond which its axis is logarithmic

# One colour per contender, the same in every chart: cio in blues, each
# peer family in a hue of its own, variants a shade apart.
COLOURS = {
    "cio": "#1f4e9c", "cio-streams": "#6f9bd8", "cio-transport": "#0b2a5e",
    "go": "#1a9e77", "go-unbuffered": "#1a9e77", "go-buffered": "#7fcdaa",
    "libuv": "#7a7a7a",
    "asyncio": "#e6a100", "asyncio-protocol": "#e6a100", "asyncio-streams": "#f5cf6b",
    "uvloop": "#c8412f", "uvloop-protocol": "#c8412f", "uvloop-streams": "#eb8f80",
}
SPARE = ["#8e5ba8", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def read_jsonl(path):
    """The JSON objects of a JSON-lines file, skipping lines that are not."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "bench" in obj:
                out.append(obj)
    return out


def area_specs():
    """{area: [Bench...]} of every bench/<area>.py with its folder."""
    specs = {}
    bench_dir = os.path.join(lib.ROOT, "bench")
    for name in sorted(os.listdir(bench_dir)):
        area, ext = os.path.splitext(name)
        if ext == ".py" and os.path.isdir(os.path.join(bench_dir, area)):
            specs[area] = lib.load_area(area).BENCHES
    return specs


def family(unit):
    """The axis a unit is drawn on: every ns/<something> shares one."""
    return "ns per operation" if unit.startswith("ns/") else unit


def colour(name, seen):
    """The colour of contender name; one of SPARE for a name COLOURS lacks."""
    if name not in COLOURS:
        COLOURS[name] = SPARE[len(seen) % len(SPARE)]
        seen.add(name)
    return COLOURS[name]


def draw_panel(ax, rows, targets, spare_seen):
    """Draws one axis: rows (results.jsonl lines of one unit family), a bar
    group each, and targets ({bench: cio target}).  Returns {name: handle}
    for the legend."""
    values = [v for r in rows for v in r["results"].values() if v and v > 0]
    log = values and max(values) / min(values) > LOG_SPAN
    width = 0.8 / max(len(r["results"]) for r in rows)
    handles = {}
    for x, r in enumerate(rows):
        names = [n for n, v in r["results"].items() if v and v > 0]
        # cio first, then the peers as the line lists them.
        names.sort(key=lambda n: (not n.startswith("cio"), 0))
        left = x - width * len(names) / 2
        for i, n in enumerate(names):
            v = r["results"][n]
            bar = ax.bar(left + width * (i + 0.5), v, width, color=colour(n, spare_seen),
                         edgecolor="white", linewidth=0.5)
            handles.setdefault(n, bar)
            ax.annotate(lib.fmt(v), (left + width * (i + 0.5), v), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom",
                        rotation=90, fontsize=6.5)
        t = targets.get(r["bench"])
        if t is not None and "cio" in names:
            line = ax.hlines(t, x - 0.45, x + 0.45, colors="black", linestyles="dashed",
                             linewidth=1)
            handles.setdefault("cio target", line)
    if log:
        ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * (4 if log else 1.2))  # room for the labels
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(["%s\n(%s)" % (r["bench"], r["unit"]) for r in rows],
                       rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", which="major", alpha=0.3)
    better = rows[0].get("better", "lower")
    ax.set_title("%s - %s is better%s" % (family(rows[0]["unit"]), better,
                                          " (log scale)" if log else ""), fontsize=10)
    return handles


def area_chart(area, rows, targets, out_path, source):
    """bench-<area>.png: panels side by side, one per unit family."""
    panels = []
    for r in rows:
        key = (family(r["unit"]), r.get("better", "lower"))
        for p in panels:
            if p[0] == key:
                p[1].append(r)
                break
        else:
            panels.append((key, [r]))
    ratios = [max(len(p[1]), 1.6) for p in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.5, 2.2 + 1.5 * sum(ratios)), 5.4),
                             gridspec_kw={"width_ratios": ratios}, squeeze=False)
    handles, spare_seen = {}, set()
    for ax, (_, prows) in zip(axes[0], panels):
        for n, h in draw_panel(ax, prows, targets, spare_seen).items():
            handles.setdefault(n, h)
    # The legend in COLOURS' order (cio first), the target last.
    rank = {n: i for i, n in enumerate(COLOURS)}
    order = sorted(handles, key=lambda n: (n == "cio target", rank.get(n, len(rank))))
    width_in = fig.get_size_inches()[0]
    ncol = max(1, min(len(order), int(width_in / 1.7)))
    nrows = -(-len(order) // ncol)
    height_in = fig.get_size_inches()[1]
    top = 1 - 0.6 / height_in            # below the title's two lines
    # Laid out before the title and legend exist, which tight_layout would
    # otherwise make room for a second time.
    fig.tight_layout(rect=(0, 0, 1, top - 0.2 * nrows / height_in))
    fig.legend([handles[n] for n in order], order, loc="upper center", ncol=ncol,
               fontsize=8, frameon=False, bbox_to_anchor=(0.5, top))
    fig.suptitle("bench-%s\nmedian of the latest run of each benchmark (%s)" % (area, source),
                 fontsize=10.5)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def report_results(results_path, out_dir):
    latest = {}
    for line in read_jsonl(results_path):
        if isinstance(line.get("results"), dict) and line["results"]:
            latest[line["bench"]] = line  # later lines replace earlier ones
    specs = area_specs()
    written = []
    placed = set()
    for area, benches in list(specs.items()) + [("other", None)]:
        if benches is None:
            rows = [l for b, l in latest.items() if b not in placed]
            targets = {}
        else:
            rows = [latest[b.name] for b in benches if b.name in latest]
            targets = {b.name: b.target for b in benches if b.target is not None}
        placed.update(r["bench"] for r in rows)
        if not rows:
            continue
        out = os.path.join(out_dir, "bench-%s.png" % area)
        area_chart(area, rows, targets, out, lib.shown(results_path))
        written.append(out)
    return written


def report_compare(compare_path, out_dir):
    lines = [l for l in read_jsonl(compare_path)
             if l.get("change_pct") is not None and "base" in l and "now" in l]
    if not lines:
        return []
    base, now = lines[-1]["base"], lines[-1]["now"]
    latest = {}
    for l in lines:
        if l["base"] == base and l["now"] == now:
            latest[(l.get("area", ""), l["bench"], l.get("contender", "cio"))] = l
    rows = list(latest.values())
    labels, gains, colours, notes = [], [], [], []
    for r in rows:
        gain = -r["change_pct"] if r.get("better", "lower") == "lower" else r["change_pct"]
        who = "" if r.get("contender", "cio") == "cio" else " [%s]" % r["contender"]
        labels.append("%s %s%s" % (r.get("area", ""), r["bench"], who))
        gains.append(gain)
        colours.append("#2a9d3a" if gain > THRESHOLD else
                       "#c8412f" if gain < -THRESHOLD else "#9a9a9a")
        notes.append("%s -> %s %s (%+.1f%%)" % (lib.fmt(r["results"]["base"]),
                                               lib.fmt(r["results"]["now"]), r["unit"],
                                               r["change_pct"]))
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.32 * len(rows)))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, gains, color=colours, height=0.65)
    lim = max([abs(g) for g in gains] + [THRESHOLD * 2]) * 1.15
    ax.set_xlim(-lim, lim)
    ax.axvspan(-THRESHOLD, THRESHOLD, color="#eeeeee", zorder=0)
    ax.axvline(0, color="black", linewidth=0.8)
    for yi, g, note in zip(y, gains, notes):
        # The note sits on the side away from the bar, inside the axis.
        ax.annotate(note, (0, yi), xytext=(-4 if g >= 0 else 4, 0),
                    textcoords="offset points", va="center",
                    ha="right" if g >= 0 else "left", fontsize=7.5)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("gain of now over base, %%  (right: better, left: worse; grey band: "
                  "within %g%%)" % THRESHOLD, fontsize=9)
    ax.set_title("cio@%s (base) -> cio@%s (now): change of each benchmark's median\n(%s)"
                 % (base, now, lib.shown(compare_path)), fontsize=10)
    fig.tight_layout()
    out = os.path.join(out_dir, "compare.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return [out]


def main():
    default_dir = os.path.join(lib.ROOT, "build", "bench")
    results_path = os.environ.get("BENCH_RESULTS", os.path.join(default_dir, "results.jsonl"))
    compare_path = os.environ.get("BENCH_COMPARE", os.path.join(default_dir, "compare.jsonl"))
    out_dir = os.environ.get("BENCH_REPORT_DIR", default_dir)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path, draw, how in ((results_path, report_results, "make bench-<area>"),
                            (compare_path, report_compare, "make bench-compare BASE=<rev>")):
        if os.path.exists(path):
            written += draw(path, out_dir)
        else:
            print("report.py: no %s (%s writes it)" % (lib.shown(path), how), file=sys.stderr)
    for w in written:
        print("wrote %s" % lib.shown(w))
    if not written:
        sys.exit("report.py: nothing to draw")


if __name__ == "__main__":
    main()
