#!/usr/bin/env bash
# Builds build-fuzz/ (clang-19, -fsanitize=fuzzer,address,undefined) and
# runs libFuzzer targets (docs/FUZZING.md):
#   usage: bash tools/fuzz.sh [--target NAME] [--jobs N] [--seconds S]
#                             [SECONDS] [-- LIBFUZZER-FLAG...]
#   NAME:    compile (default): parse -> sema -> IRGen/AD -> verify -> simplify
#            run:     compile, LLVM, JIT, and run `main` in a forked child
#            csv:     the runtime's CSV reader (bp_read_csv)
#            params:  the runtime's params loader (bp_load_params_flags)
#            all:     each of them in turn, with the same --jobs and --seconds
#            (bp_fuzz_NAME is accepted too; --run is --target run)
#   --jobs N:    N libFuzzer processes at once (-jobs=N -workers=N; logs
#                fuzz-0.log ... in the run's log folder), default 1
#   --seconds S: each process runs S seconds (SECONDS, positional, is the
#                same), default 60. CPU time = targets x N x S.
# For each target it prints the exact command, the corpus size (files)
# before and after, the executions and the coverage (libFuzzer's final
# stats, per job; with N > 1 also the coverage of the merged corpus), then
# one summary line per target, a row for docs/FUZZING.md's log. Exit status
# 1 when any target found something (inputs in build-fuzz/crashes/).
# The 1 CPU-hour campaign: bash tools/fuzz.sh --target all --jobs 2 --seconds 450
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=compile
jobs=1
secs=60
extra=()
usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
  --target) [ $# -ge 2 ] || usage; target=${2#bp_fuzz_}; shift 2 ;;
  --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
  --seconds) [ $# -ge 2 ] || usage; secs=$2; shift 2 ;;
  --run) target=run; shift ;;
  --) shift; extra=("$@"); break ;;
  -h | --help) usage ;;
  [0-9]*) secs=$1; shift ;;
  *) echo "fuzz.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for n in "$jobs" "$secs"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: '$n' is not a positive integer" >&2; exit 2; }
done
case "$target" in
all) targets=(compile run csv params) ;;
compile | run | csv | params) targets=("$target") ;;
*) echo "fuzz.sh: unknown target '$target' (compile, run, csv, params, all)" >&2; exit 2 ;;
esac

# clang's sanitizer and fuzzer runtimes, and OpenMP for clang (bpc uses it).
missing=()
for pkg in libclang-rt-19-dev libomp-19-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
CC=clang-19 CXX=clang++-19 cmake -G Ninja -S . -B build-fuzz \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBP_FUZZ=ON >/dev/null
ninja -C build-fuzz -j"${BP_JOBS:-2}" "${targets[@]/#/bp_fuzz_}"

# Corpus, seeds, dictionary and libFuzzer flags of target $1.
prepare() {
  local t=$1
  corpus=$root/build-fuzz/corpus-$t
  [ "$t" = compile ] && corpus=$root/build-fuzz/corpus
  mkdir -p "$corpus" "$root/build-fuzz/crashes"
  flags=(-timeout=10 -rss_limit_mb=4096)
  asan=""
  case "$t" in
  compile | run)
    find test examples -name '*.bp' -size -64k -exec cp {} "$corpus"/ \; 2>/dev/null || true
    # fuzz/bp.dict's tokens plus "NAME(" for every elementwise builtin of
    # the op table (compiler/ir/Ops.def), so a new op is fuzzed.
    { cat fuzz/bp.dict
      python3 -c 'import sys; sys.path.insert(0, "tools"); import ad_fuzz_common as c
for n in c.table_builtins(): print("\"%s(\"" % n)'
    } > build-fuzz/bp.dict
    dict=$root/build-fuzz/bp.dict ;;
  csv)
    find test examples -name '*.csv' -size -64k -exec cp {} "$corpus"/ \; 2>/dev/null || true
    dict=$root/fuzz/csv.dict
    flags+=(-max_len=4096)
    # Every bad file ends in bp_guarded_call's longjmp, after which ASan
    # sweeps its fake stacks (detection of stack use after return): that
    # made this target 6 times slower, so it is off here.
    asan=detect_stack_use_after_return=0 ;;
  params)
    cp fuzz/seeds/params/* "$corpus"/
    find test examples -name '*.params' -size -64k -exec cp {} "$corpus"/ \; 2>/dev/null || true
    dict=$root/fuzz/params.dict
    flags+=(-max_len=4096) ;;
  esac
}

# "EXECUTIONS COV FT" summed (executions) and listed (cov/ft per job) over
# the logs $@.
stats() {
  python3 - "$@" <<'EOF'
import re, sys
execs, cov = 0, []
for path in sys.argv[1:]:
    text = open(path, errors="replace").read()
    m = re.findall(r"stat::number_of_executed_units: (\d+)", text)
    execs += int(m[-1]) if m else 0
    c = re.findall(r"cov: (\d+) ft: (\d+)", text)
    cov.append("%s/%s" % c[-1] if c else "?")
print(execs, " ".join(cov))
EOF
}

summary=()
status=0
commit=$(git rev-parse --short HEAD)
for t in "${targets[@]}"; do
  prepare "$t"
  bin=$root/build-fuzz/fuzz/bp_fuzz_$t
  logs=$root/build-fuzz/logs/$t-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$logs"
  before=$(find "$corpus" -type f | wc -l)
  crashesBefore=$(find build-fuzz/crashes -type f | wc -l)
  cmd=("$bin" "$corpus" -dict="$dict" -max_total_time="$secs" "${flags[@]}"
       -artifact_prefix="$root/build-fuzz/crashes/$t-" -print_final_stats=1)
  [ "$jobs" -gt 1 ] && cmd+=(-jobs="$jobs" -workers="$jobs")
  cmd+=("${extra[@]}")
  echo "== fuzz $t: at commit $commit, $jobs x $secs s"
  echo "== fuzz $t: corpus $corpus: $before files before"
  echo "== fuzz $t: command (in $logs):"
  echo "   ${asan:+ASAN_OPTIONS=$asan }${cmd[*]}"
  rc=0
  if [ "$jobs" -gt 1 ]; then
    (cd "$logs" && ASAN_OPTIONS=${ASAN_OPTIONS:-$asan} "${cmd[@]}") || rc=$?
  else
    (cd "$logs" && ASAN_OPTIONS=${ASAN_OPTIONS:-$asan} "${cmd[@]}" 2>&1 | tee fuzz-0.log
     exit "${PIPESTATUS[0]}") || rc=$?
  fi
  after=$(find "$corpus" -type f | wc -l)
  read -r execs covs < <(stats "$logs"/fuzz-*.log)
  echo "== fuzz $t: corpus: $before files before, $after after"
  echo "== fuzz $t: executions: $execs; coverage (cov/ft, per job): $covs"
  merged=""
  if [ "$jobs" -gt 1 ]; then
    # The jobs' coverage does not add up: replay the merged corpus once.
    merged=$( (cd "$logs" && ASAN_OPTIONS=${ASAN_OPTIONS:-$asan} "$bin" "$corpus" "${flags[@]}" -runs=0 2>&1) |
      sed -n 's/.*INITED cov: \([0-9]*\) ft: \([0-9]*\).*/\1\/\2/p' | tail -1)
    echo "== fuzz $t: coverage of the merged corpus (cov/ft): $merged"
  fi
  crashes=$(( $(find build-fuzz/crashes -type f | wc -l) - crashesBefore ))
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    result="FOUND: exit $rc, $crashes new files in build-fuzz/crashes/ (see $logs)"
    status=1
  else
    result="nothing found"
  fi
  echo "== fuzz $t: $result"
  summary+=("| $(date +%F) | $commit | \`--target $t --jobs $jobs --seconds $secs\` | $before → $after files | $execs | ${merged:-$covs} | $result |")
done
echo "== fuzz summary (date | commit | command | corpus | executions | coverage cov/ft | result):"
printf '%s\n' "${summary[@]}"
exit "$status"
