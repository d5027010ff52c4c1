"""Runs the same Google Benchmark binaries of two builds, interleaved, and
prints new/old time ratios per benchmark (median over rounds): the way to
report a change's effect on this shared, noisy machine (README: ratios
measured in one run, interleaved).

usage: compare_builds.py OLD_BUILD NEW_BUILD [--rounds N] [--min-time S]
                         [BENCH...]   (default: bp_bench_ad bp_bench_mlp
                                       bp_bench_mlp_aot; binaries that
                                       need data arguments, such as
                                       bp_bench_gmm, are not supported)
"""
import json
import statistics
import subprocess
import sys
import tempfile


def run(binary, min_time):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([binary, "--benchmark_out=" + f.name,
                        "--benchmark_out_format=json",
                        "--benchmark_min_time=%ss" % min_time],
                       capture_output=True, text=True, check=True)
        data = json.load(open(f.name))
    return {b["name"]: b["real_time"] for b in data["benchmarks"]
            if b.get("run_type", "iteration") == "iteration"}


def main(argv):
    rounds, min_time, names, pos = 3, 0.2, [], []
    it = iter(argv)
    for a in it:
        if a == "--rounds":
            rounds = int(next(it))
        elif a == "--min-time":
            min_time = float(next(it))
        else:
            pos.append(a)
    old, new, names = pos[0], pos[1], pos[2:] or [
        "bp_bench_ad", "bp_bench_mlp", "bp_bench_mlp_aot"]
    for name in names:
        ratios = {}
        for r in range(rounds):
            # Alternate the order so drift of the machine's load cancels.
            order = [("old", old), ("new", new)]
            if r % 2:
                order.reverse()
            times = {k: run("%s/bench/%s" % (d, name), min_time)
                     for k, d in order}
            for b, t in times["new"].items():
                if b in times["old"]:
                    ratios.setdefault(b, []).append(t / times["old"][b])
        print("== %s (new / old time, median of %d interleaved rounds)"
              % (name, rounds))
        for b, rs in ratios.items():
            print("  %-60s %.3f  (%s)" % (b, statistics.median(rs),
                                         " ".join("%.2f" % x for x in rs)))
        all_r = [statistics.median(rs) for rs in ratios.values()]
        if all_r:
            print("  geometric mean %.3f" % statistics.geometric_mean(all_r))


if __name__ == "__main__":
    main(sys.argv[1:])
