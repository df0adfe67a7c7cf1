"""lib.py - the shared part of cio's benchmark harness (DESIGN.md section 9).

    /usr/bin/python3 bench/lib.py AREA        (bench/run.sh calls this)

An area is a file bench/<AREA>.py that defines, with the helpers below:

    CONTENDERS = {"cio": [argv...], "go": [argv...], ...}
    BENCHES = [Bench("spawn_join", "ns/task", group="spawn_join",
                     contenders=["cio", "go"], target=25), ...]

A contender is a program run as `argv + [group]`; it prints one line
"<bench> <value>" for each benchmark of that group, and may add lines
"<bench>:<metric> <value>" that land in the JSON line as extra objects
keyed like "results" (bench-net's p99_us and cpu_us_per_msg) (a group may measure
several benchmarks in one run, as the timers do).  For each group this
module runs every contender RUNS times, alternating them (round r starts at
contender r), each pinned with taskset to one core, takes the median of
each benchmark's values, appends one JSON line per benchmark to
build/bench/results.jsonl and prints a table with cio's ratio to each peer.

bench/compare.py reuses the same pieces (load_area, measure_group,
medians) to run two builds of cio against each other (make bench-compare).

Environment: BENCH_CPU (core to pin to; default the last one), BENCH_RUNS
(override every benchmark's run count), BENCH_ONLY (comma-separated groups
to run), BENCH_RESULTS (results file).
"""
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"


class Bench:
    """One benchmark: its name and unit as in results.jsonl, whether lower
    or higher is better, the group that measures it, who takes part, how
    many runs, and the project's target for cio (reported, never asserted)."""

    def __init__(self, name, unit, group=None, contenders=("cio",), better="lower",
                 runs=5, target=None, timeout=180):
        self.name = name
        self.unit = unit
        self.group = group or name
        self.contenders = list(contenders)
        self.better = better
        self.runs = runs
        self.target = target
        self.timeout = timeout


def pinned(argv):
    """argv run under taskset on BENCH_CPU when taskset exists."""
    cpu = os.environ.get("BENCH_CPU", str((os.cpu_count() or 1) - 1))
    if shutil.which("taskset"):
        return ["taskset", "-c", cpu] + list(argv)
    return list(argv)


def run_once(argv, group, timeout, env=None):
    """Runs one contender on one group: {bench: value}, or None on failure.
    env: variables to set for the program on top of this process's."""
    cmd = pinned(argv + [group])
    full_env = dict(os.environ, **env) if env else None
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                           env=full_env)
    except subprocess.TimeoutExpired:
        print("  ! %s timed out after %d s" % (" ".join(cmd), timeout), file=sys.stderr)
        return None
    if p.returncode != 0:
        print("  ! %s failed (exit %d): %s" % (" ".join(cmd), p.returncode,
                                            p.stderr.strip()[-300:]), file=sys.stderr)
        return None
    out = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def fmt(v):
    if v is None:
        return "-"
    if v >= 1000:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3g" % v


def ratio_text(cio, peer, better):
    """cio/peer, with a word on who wins: 'x0.21 (4.8x better)'."""
    if cio is None or peer is None or peer == 0 or cio == 0:
        return "-"
    r = cio / peer
    good = r < 1 if better == "lower" else r > 1
    factor = (1 / r) if r < 1 else r
    return "x%s (%s %s)" % (fmt(r), fmt(factor) + "x", "better" if good else "worse")


def load_area(area, build=None):
    """Imports bench/<area>.py afresh.  Its module-level paths read
    BENCH_BUILD, so build (a build directory) gives the argv of the programs
    built there: compare.py loads an area once per build it compares."""
    spec_path = os.path.join(ROOT, "bench", area + ".py")
    if not os.path.exists(spec_path):
        raise SystemExit("lib.py: no benchmarks for '%s' (%s)" % (area, spec_path))
    saved = os.environ.get("BENCH_BUILD")
    if build is not None:
        os.environ["BENCH_BUILD"] = build
    try:
        name = "bench_area_%s_%d" % (area, len(sys.modules))
        spec = importlib.util.spec_from_file_location(name, spec_path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        if build is not None:
            if saved is None:
                del os.environ["BENCH_BUILD"]
            else:
                os.environ["BENCH_BUILD"] = saved
    return mod


def selected(benches):
    """The benchmarks BENCH_ONLY names (by group or name), or all of them."""
    only = os.environ.get("BENCH_ONLY")
    if not only:
        return list(benches)
    keep = set(only.split(","))
    return [b for b in benches if b.group in keep or b.name in keep]


def grouped(benches):
    """[(group, [Bench...])] in first-seen order: each group's programs run
    once per round and measure all of its benchmarks."""
    groups = []
    for b in benches:
        for g in groups:
            if g[0] == b.group:
                g[1].append(b)
                break
        else:
            groups.append((b.group, [b]))
    return groups


def measure_group(group, gbenches, argvs, envs=None):
    """Runs each contender of argvs ({name: argv}, in order) on one group,
    RUNS times (BENCH_RUNS, else the group's largest runs), alternating
    them: round r starts at contender r.  envs: {name: {var: value}} for
    contenders that need their own environment.  Returns (samples, runs),
    samples being {name: {bench: [values]}}; failed runs add nothing."""
    who = list(argvs)
    if not who:
        return {}, 0
    runs = int(os.environ.get("BENCH_RUNS", "0")) or max(b.runs for b in gbenches)
    timeout = max(b.timeout for b in gbenches)
    samples = {c: {} for c in who}
    t0 = time.time()
    for r in range(runs):
        order = who[r % len(who):] + who[:r % len(who)]
        for c in order:
            out = run_once(argvs[c], group, timeout, (envs or {}).get(c))
            for name, v in (out or {}).items():
                samples[c].setdefault(name, []).append(v)
    print("  %-16s %d runs x %d contenders, %.1f s" % (group, runs, len(who),
                                                      time.time() - t0), file=sys.stderr)
    return samples, runs


def medians(bench, samples, names):
    """The medians of one benchmark for each contender of names that gave
    values: (results, extras), extras being {metric: {contender: median}}
    from the lines "<bench>:<metric> v" (bench-net's p99_us,
    cpu_us_per_msg)."""
    res, extras = {}, {}
    for c in names:
        got = samples.get(c, {})
        vals = got.get(bench.name)
        if vals:
            res[c] = round(statistics.median(vals), 3)
        for key, vals in got.items():
            if key.startswith(bench.name + ":") and vals:
                metric = key.split(":", 1)[1]
                extras.setdefault(metric, {})[c] = round(statistics.median(vals), 3)
    return res, extras


def results_file(env_var, name):
    """The JSON-lines file env_var names, else build/bench/<name>; its
    directory is created."""
    path = os.environ.get(env_var, os.path.join(ROOT, "build", "bench", name))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


def shown(path):
    """path as printed: relative to the tree when inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def run_area(area):
    mod = load_area(area)
    contenders = mod.CONTENDERS
    benches = selected(mod.BENCHES)
    results_path = results_file("BENCH_RESULTS", "results.jsonl")

    rows = []
    started = time.time()
    for group, gbenches in grouped(benches):
        argvs = {}
        for b in gbenches:
            for c in b.contenders:
                if contenders.get(c) and c not in argvs:
                    argvs[c] = contenders[c]
        samples, _ = measure_group(group, gbenches, argvs)
        for b in gbenches:
            res, extras = medians(b, samples, b.contenders)
            line = {"bench": b.name, "unit": b.unit, "better": b.better, "results": res}
            line.update(extras)
            with open(results_path, "a") as f:
                f.write(json.dumps(line) + "\n")
            rows.append((b, res))

    print_table(area, rows)
    print("\n%d benchmarks in %.0f s; results appended to %s" %
          (len(rows), time.time() - started, shown(results_path)))


def print_table(area, rows):
    peers = []
    for b, res in rows:
        for c in res:
            if c != "cio" and c not in peers:
                peers.append(c)
    head = ["bench", "unit", "cio", "target"] + peers
    table = [head]
    for b, res in rows:
        cio = res.get("cio")
        tgt = "-"
        if b.target is not None and cio is not None:
            met = cio <= b.target if b.better == "lower" else cio >= b.target
            tgt = "%s %s" % ("<=" if b.better == "lower" else ">=", fmt(b.target))
            tgt += " met" if met else " MISSED"
        row = [b.name, b.unit, fmt(cio), tgt]
        for p in peers:
            v = res.get(p)
            row.append("-" if v is None else "%s %s" % (fmt(v), ratio_text(cio, v, b.better)))
        table.append(row)
    print("\n== bench-%s: medians; a peer column shows its value and cio/peer ==" % area)
    print_rows(table)


def print_rows(table):
    """Prints table (a header row, then rows of strings) in aligned columns."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths).rstrip())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: lib.py AREA")
    run_area(sys.argv[1])
