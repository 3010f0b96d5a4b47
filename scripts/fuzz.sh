#!/usr/bin/env bash
# Fuzzes MediationCore's parsers and renderers with libFuzzer (Fuzz/, a separate SwiftPM package).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 30 seconds for each of the targets below
#
# Builds Fuzz/ with -sanitize=fuzzer,address (scratch path .build-fuzz, -c release; FUZZ_CONFIGURATION=debug
# for a debug build: release runs 1.3-4x more inputs a second, traps on overflow all the same and keeps
# file:line in its stacks), then runs each target for SECONDS (-max_total_time) on its seed corpus
# Fuzz/corpus/<name>/ (and dictionary Fuzz/dicts/). New corpus entries go to a temporary directory, not
# into the repository. A crash (trap, sanitizer report or failed property check) is written
# to Fuzz/crashes/<Target>-crash-<sha1>; reproduce it with
#   SWIFT_BACKTRACE=enable=no .build-fuzz/release/<Target> Fuzz/crashes/<Target>-crash-<sha1>
# Reproducers already in Fuzz/crashes/ are replayed first: one that still crashes fails the run too.
# Runs FUZZ_JOBS targets at a time (default 2). Prints one line per target (executions, corpus size, result)
# and exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
all=(FuzzConfig FuzzResponses FuzzCallout FuzzExposition FuzzRender FuzzPath FuzzRequest FuzzState)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

# Target -> seed corpus directory and dictionary.
corpus_of() {
  case "$1" in
    FuzzConfig) echo config ;; FuzzResponses) echo responses ;; FuzzCallout) echo callout ;;
    FuzzExposition) echo exposition ;; FuzzRender) echo render ;; FuzzPath) echo path ;; FuzzRequest) echo request ;; FuzzState) echo state ;;
    *) echo "" ;;
  esac
}
dict_of() {
  case "$1" in
    FuzzConfig) echo Fuzz/dicts/config.dict ;; FuzzResponses | FuzzCallout | FuzzState) echo Fuzz/dicts/json.dict ;;
    FuzzRequest) echo Fuzz/dicts/request.dict ;; *) echo "" ;;
  esac
}

case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
for target in "${targets[@]}"; do
  [ -n "$(corpus_of "$target")" ] || { echo "fuzz: unknown target $target (known: ${all[*]})" >&2; exit 2; }
done

if [ -x scripts/install-deps.sh ] && [ "${ZME_DEPS_INSTALLED:-0}" != 1 ]; then scripts/install-deps.sh; fi

# The fuzz package resolves the main package's dependencies itself; pin them to the main package's versions.
if [ -f Package.resolved ] && ! cmp -s Package.resolved Fuzz/Package.resolved; then
  cp Package.resolved Fuzz/Package.resolved
fi

configuration="${FUZZ_CONFIGURATION:-release}"
echo "fuzz: building Fuzz/ (-c $configuration, -sanitize=fuzzer,address, scratch .build-fuzz)"
build_start=$SECONDS
build_log=$(mktemp)
# -Xcc instruments the C targets too (Yams' libyaml), so that the fuzzer sees coverage inside the YAML parser.
# Foundation's JSONDecoder is a prebuilt toolchain library: not instrumented, only its callers are.
if ! swift build --package-path Fuzz -c "$configuration" --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address >"$build_log" 2>&1; then
  # ld.gold warns once per ASan helper symbol; everything else is worth seeing.
  grep -v "Cannot export local symbol" "$build_log" | tail -60
  echo "fuzz: build failed" >&2
  exit 1
fi
rm -f "$build_log"
echo "fuzz: built in $((SECONDS - build_start)) s"
bin=".build-fuzz/$configuration"

work=$(mktemp -d "${TMPDIR:-/tmp}/mediation-fuzz.XXXXXX")
mkdir -p Fuzz/crashes
# Swift's own crash backtracer waits on the dying process and keeps libFuzzer from writing its report:
# off. ASan: smaller quarantine (2 cores, several GiB at most), symbolized stacks.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64:symbolize=1:detect_leaks=1}"

failed=0
summary=()

# Known crashes first: every reproducer kept in Fuzz/crashes/ must not crash any more.
for target in "${targets[@]}"; do
  mapfile -t known < <(find Fuzz/crashes -type f -name "$target-*" | sort)
  [ ${#known[@]} -eq 0 ] && continue
  still=()
  for file in "${known[@]}"; do
    if ! "$bin/$target" -runs=1 "$file" >"$work/replay.log" 2>&1; then
      still+=("$file")
      echo "---- $target: $file still crashes ----"
      grep -E "Fatal error|runtime failure|PROPERTY VIOLATED|ERROR: AddressSanitizer|SUMMARY|^    #[0-9]+ .* /work|Sources/" "$work/replay.log" \
        | grep -v "^    #[0-9]* .*llvm-project" | head -12
    fi
  done
  line=$(printf '%-15s replay of %d known crash file(s): %s' "$target" "${#known[@]}" \
    "$([ ${#still[@]} -eq 0 ] && echo "all fixed" || echo "${#still[@]} STILL CRASH")")
  echo "fuzz: $line"
  summary+=("$line")
  [ ${#still[@]} -eq 0 ] || failed=1
done

# One target's run; writes its summary line to $work/<target>.line. Targets run FUZZ_JOBS at a time
# (default 2): each libFuzzer process is single-threaded, and a 2-core machine runs two at once.
fuzz_one() {
  local target="$1" name dict log before start status took execs corpus after result artifact
  name=$(corpus_of "$target")
  dict=$(dict_of "$target")
  mkdir -p "$work/$name"
  log="$work/$target.log"
  local args=(
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -print_final_stats=1
    -artifact_prefix="Fuzz/crashes/$target-"
  )
  [ -n "$dict" ] && args+=(-dict="$dict")
  before=$(find Fuzz/crashes -type f -name "$target-*" | wc -l)
  start=$SECONDS
  status=0
  # First corpus directory: where new entries are written (temporary); second: the seeds (read only).
  "$bin/$target" "${args[@]}" "$work/$name" "Fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  took=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -z "$execs" ] && execs=$(sed -n 's/^#\([0-9]*\)\t.*/\1/p' "$log" | tail -1)
  corpus=$(find "$work/$name" "Fuzz/corpus/$name" -type f | wc -l)
  after=$(find Fuzz/crashes -type f -name "$target-*" | wc -l)
  if [ "$status" -eq 0 ] && [ "$after" -eq "$before" ]; then
    result="ok"
  else
    artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
    result="CRASH (exit $status)${artifact:+, reproducer $artifact}"
    {
      echo "---- $target: end of its log ($log) ----"
      grep -v "^#[0-9]" "$log" | tail -80
      echo "----"
    } >"$work/$target.report"
  fi
  printf '%-15s %10s execs in %3d s (%s exec/s), corpus %5s files: %s\n' \
    "$target" "${execs:-?}" "$took" "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)" "$corpus" \
    "$result" >"$work/$target.line"
}

jobs_max="${FUZZ_JOBS:-2}"
case "$jobs_max" in '' | *[!0-9]* | 0) jobs_max=1 ;; esac
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_one "$target" &
done
wait
for target in "${targets[@]}"; do
  line=$(cat "$work/$target.line" 2>/dev/null || printf '%-15s no result: its run ended early (see %s)' "$target" "$work/$target.log")
  [ -f "$work/$target.line" ] || failed=1
  [ -f "$work/$target.report" ] && { cat "$work/$target.report"; failed=1; }
  echo "fuzz: $line"
  summary+=("$line")
done

echo
echo "fuzz summary (${seconds} s per target; logs and new corpus entries in $work):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
