#!/bin/bash
# bench/fuzz.sh — build every libFuzzer target (fuzz_*, registered with drover_fuzz()) with
# clang in its own tree and run each for a set time; one JSON line per figure:
#   {"bench":"fuzz","metric":"execs"|"execs_per_s"|"coverage"|"crashes",...,"target":T,"seconds":S}
# coverage is libFuzzer's final "cov:" (edges, value) and "ft:" (features, "ft").
# A crash keeps its input in DIR/artifacts/ and makes the script exit 1.
#   FUZZ_SECONDS=N         per target (default 60; a long run uses e.g. 600)
#   FUZZ_TARGETS="a b"     only these targets (default: all)
#   DROVER_FUZZ_BUILD=DIR  the clang tree (default ./build/fuzz-bench)
#   DROVER_FUZZ_JOBS=N     build parallelism (default: nproc)
# Called by bench/run.sh with the Release tree as $1, which it does not use.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${FUZZ_SECONDS:-60}
fz=${DROVER_FUZZ_BUILD:-$root/build/fuzz-bench}
if ! command -v clang >/dev/null; then
  echo "bench/fuzz.sh: clang not installed, fuzz targets not built (skipped)" >&2
  exit 0
fi
mkdir -p "$fz"
if ! CC=clang cmake -S "$root" -B "$fz" -DCMAKE_BUILD_TYPE=Debug -DDROVER_FUZZ=ON > "$fz/configure.log" 2>&1; then
  tail -20 "$fz/configure.log" >&2; echo "bench/fuzz.sh: configure failed ($fz)" >&2; exit 1
fi
all=$(cmake --build "$fz" --target help | sed -n 's/^\.\.\. \(fuzz_[a-z_]*\).*/\1/p')
if ! cmake --build "$fz" -j"${DROVER_FUZZ_JOBS:-$(nproc)}" --target $all > "$fz/build.log" 2>&1; then
  grep -E 'error' "$fz/build.log" | head -20 >&2; echo "bench/fuzz.sh: build failed ($fz/build.log)" >&2; exit 1
fi
exe() { find "$fz" -name "$1" -type f -perm -u+x | head -1; }

# seeds: the corpus programs write valid messages; each target then grows its own corpus
# under $fz/corpus/<target> (kept between runs, so a second run starts where this ended)
seeds=$fz/seeds; rm -rf "$seeds"; mkdir -p "$seeds/fuzz_envelope_open"
"$(exe fuzz_corpus_envelope)" "$seeds/fuzz_envelope_open"
"$(exe fuzz_corpus_seeds)" "$seeds"
mkdir -p "$fz/artifacts"

targets=${FUZZ_TARGETS:-$(printf '%s\n' $all | grep -v '^fuzz_corpus_')}
rc=0
for t in $targets; do
  f=$(exe "$t")
  [ -n "$f" ] || { echo "bench/fuzz.sh: no target $t" >&2; rc=1; continue; }
  corpus=$fz/corpus/$t; mkdir -p "$corpus"
  dirs=("$corpus"); [ -d "$seeds/$t" ] && dirs+=("$seeds/$t")
  log=$fz/$t.log
  echo "bench/fuzz.sh: $t for ${secs}s (log $log)" >&2
  crashed=0
  # undefined behaviour is a finding like a crash: UBSan halts, libFuzzer keeps the input
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
  "$f" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 -timeout=10 \
       -artifact_prefix="$fz/artifacts/$t-" "${dirs[@]}" > "$log" 2>&1 || crashed=1
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')   # no final stats
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  p="\"target\":\"$t\",\"seconds\":$secs"
  echo "{\"bench\":\"fuzz\",\"metric\":\"execs\",\"value\":${execs:-0},\"unit\":\"runs\",$p}"
  echo "{\"bench\":\"fuzz\",\"metric\":\"execs_per_s\",\"value\":${rate:-0},\"unit\":\"runs/s\",$p}"
  echo "{\"bench\":\"fuzz\",\"metric\":\"coverage\",\"value\":${cov:-0},\"unit\":\"edges\",\"ft\":${ft:-0},$p}"
  echo "{\"bench\":\"fuzz\",\"metric\":\"crashes\",\"value\":$crashed,\"unit\":\"crashes\",$p}"
  if [ $crashed = 1 ]; then
    tail -40 "$log" >&2
    echo "bench/fuzz.sh: $t FAILED; input kept: $(ls "$fz/artifacts/$t-"* 2>/dev/null | head -3)" >&2
    rc=1
  fi
done
exit $rc
