"""compare.py AREA BASE_BUILD BASE_LABEL BASE_REV NOW_LABEL - one area's
benchmarks with two builds of cio, an older revision's and the current
tree's (bench/compare.sh builds both and calls this; make bench-compare).

The benchmarks are those today's bench/<AREA>.py lists (BENCH_ONLY picks
some).  Every cio contender of a benchmark ("cio", and in bench-net also
"cio-streams") runs twice per round: as "<name>@<BASE_LABEL>", the program
built in BASE_BUILD, and as "<name>", the one in BENCH_BUILD.  lib.py runs
them as it runs peers: alternating, pinned, each benchmark's number of runs
(BENCH_RUNS overrides), medians.  Peers are not run: the question is only
whether cio got faster or slower.

For each benchmark (and bench-net's server CPU per message and p99, which
tell more than its client-bound throughput) it prints base, now and the
change, flagging a change for the worse beyond BENCH_THRESHOLD percent
(default 5), and appends a JSON line to build/bench/compare.jsonl
(BENCH_COMPARE to change):

  {"area": "core", "bench": "spawn_join", "contender": "cio",
   "unit": "ns/task", "better": "lower", "base": "1a2b3c4",
   "base_rev": "<full hash>", "now": "5d6e7f8+", "results": {"base": 60.2,
   "now": 57.9}, "change_pct": -3.8, "verdict": "same", "runs": 5,
   "time": "2025-01-01T12:00:00Z"}

verdict is "worse" or "better" beyond the threshold, else "same"; "now"
ends in "+" when the tree measured differs from its HEAD.
"""
import datetime
import json
import os
import sys

import lib

THRESHOLD = float(os.environ.get("BENCH_THRESHOLD", "5"))

# Extra metrics of a benchmark's runs that get a row of their own:
# metric -> (unit, better).  bench-net's echo runs are often bound by the
# load generator, so the server's CPU per message is the figure that moves.
METRICS = {"cpu_us_per_msg": ("us/msg", "lower"), "p99_us": ("us", "lower")}


def is_cio(name):
    return name == "cio" or name.startswith("cio-")


def change_pct(base, now):
    if base is None or now is None or base == 0:
        return None
    return (now - base) / base * 100


def verdict(pct, better):
    """'worse' or 'better' when the change passes the threshold, else 'same'."""
    if pct is None:
        return "-"
    if abs(pct) <= THRESHOLD:
        return "same"
    return "worse" if (pct > 0) == (better == "lower") else "better"


def pair_up(gbenches, base_mod, now_mod, base_label):
    """The cio contenders of a group that both builds have: (argvs, pairs),
    argvs as lib.measure_group takes them, pairs [(name, base tag)]."""
    argvs, pairs = {}, []
    for b in gbenches:
        for c in b.contenders:
            if not is_cio(c) or c in (p[0] for p in pairs):
                continue
            old, new = base_mod.CONTENDERS.get(c), now_mod.CONTENDERS.get(c)
            if not old or not new:
                print("  ! %s is not built %s: %s skipped" %
                      (c, "at " + base_label if not old else "now", b.group), file=sys.stderr)
                continue
            tag = "%s@%s" % (c, base_label)
            argvs[tag] = old
            argvs[c] = new
            pairs.append((c, tag))
    return argvs, pairs


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: compare.py AREA BASE_BUILD BASE_LABEL BASE_REV NOW_LABEL")
    area, base_build, base_label, base_rev, now_label = sys.argv[1:]
    now_build = os.environ.get("BENCH_BUILD", os.path.join(lib.ROOT, "build-bench"))
    now_mod = lib.load_area(area, now_build)
    base_mod = lib.load_area(area, base_build)
    # Programs that find their binaries through BENCH_BUILD (bench-net's
    # drive.py) get the build of their side; the load generator is always
    # the current one, so only the server differs.
    env_now = {"BENCH_BUILD": now_build}
    env_base = {"BENCH_BUILD": base_build,
                "BENCH_LOADGEN": os.path.join(now_build, "bench", "bench_loadgen")}
    # bench-ws's C load generator likewise, unless node's is asked for
    # (BENCH_WS_LOADGEN=node, the same on both sides).
    if os.environ.get("BENCH_WS_LOADGEN", "c") == "c":
        env_base["BENCH_WS_LOADGEN"] = os.path.join(now_build, "bench", "bench_ws_loadgen")
    out_path = lib.results_file("BENCH_COMPARE", "compare.jsonl")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = []
    for group, gbenches in lib.grouped(lib.selected(now_mod.BENCHES)):
        argvs, pairs = pair_up(gbenches, base_mod, now_mod, base_label)
        envs = {c: env_now for c, _ in pairs}
        envs.update({tag: env_base for _, tag in pairs})
        samples, runs = lib.measure_group(group, gbenches, argvs, envs)
        for b in gbenches:
            for c, tag in pairs:
                if c not in b.contenders:
                    continue
                res, extras = lib.medians(b, samples, [tag, c])
                lines = [(b.name, b.unit, b.better, res)]
                for metric, (unit, better) in METRICS.items():
                    if metric in extras:
                        lines.append((b.name + ":" + metric, unit, better, extras[metric]))
                for name, unit, better, vals in lines:
                    old, new = vals.get(tag), vals.get(c)
                    pct = change_pct(old, new)
                    line = {"area": area, "bench": name, "contender": c, "unit": unit,
                            "better": better, "base": base_label, "base_rev": base_rev,
                            "now": now_label, "results": {"base": old, "now": new},
                            "change_pct": None if pct is None else round(pct, 2),
                            "verdict": verdict(pct, better), "runs": runs, "time": stamp}
                    with open(out_path, "a") as f:
                        f.write(json.dumps(line) + "\n")
                    rows.append(line)
    print_compare(area, rows, base_label, now_label)
    print("results appended to %s" % lib.shown(out_path))


def print_compare(area, rows, base_label, now_label):
    table = [["bench", "unit", "better", "cio@" + base_label, "cio@" + now_label, "change", ""]]
    worse = []
    for r in rows:
        name = r["bench"] if r["contender"] == "cio" else "%s [%s]" % (r["bench"], r["contender"])
        pct = r["change_pct"]
        flag = {"worse": "WORSE by > %g%%" % THRESHOLD, "better": "better"}.get(r["verdict"], "")
        if r["verdict"] == "worse":
            worse.append(name)
        table.append([name, r["unit"], r["better"], lib.fmt(r["results"]["base"]),
                      lib.fmt(r["results"]["now"]),
                      "-" if pct is None else "%+.1f%%" % pct, flag])
    print("\n== bench-%s: cio@%s (base) against cio@%s (now), medians; change = now/base - 1 =="
          % (area, base_label, now_label))
    lib.print_rows(table)
    if worse:
        print("\n%d of %d worse by more than %g%%: %s" % (len(worse), len(rows), THRESHOLD,
                                                       ", ".join(worse)))
    else:
        print("\nnone of %d worse by more than %g%%" % (len(rows), THRESHOLD))


if __name__ == "__main__":
    main()
