#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, checks the operator's kit, runs the process-level
# tests (the simulator, the exporter, Prometheus, Alertmanager, curl and wrk as real processes), and beside
# them fuzzes and runs the in-process Swift suites under ThreadSanitizer and under AddressSanitizer.
# Exits 1 if any part failed. Prints the time of each part.
# The sanitized pass over the process-level tests (sanitized exporter and simulator binaries) takes longer
# than the rest together: it is `scripts/sanitizers.sh` on its own (see docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
timings=()
took() { timings+=("$(printf '%-44s %4d s%s' "$1" "$((SECONDS - $2))" "${3:-}")"); }

t=$SECONDS
scripts/install-deps.sh
took "install-deps" "$t"

# Parts that need the CPU but not each other run at the same time, as side jobs whose output goes to a
# log file, printed when they end. Most of the suite's CPU time is in builds (the package and its
# dependencies four times: debug, fuzz, TSan, ASan); the process-level tests mostly wait on the processes
# they start. The side jobs run under the idle scheduling policy (SCHED_IDLE, `chrt --idle`; `nice -n 19`
# where chrt is missing): the tests get the CPU whenever they want it and keep their timing; the builds
# take what is left. At nice 19 the compilers still took enough of it that scrapes during the scrape-storm
# test took 0.9-2.2 s in 2 of 7 runs (the bound is 1 s); under SCHED_IDLE, at most 0.28 s in 8.
side=$(mktemp -d "${TMPDIR:-/tmp}/mediation-test.XXXXXX")
# Interrupted or failed early: the side jobs (and their builds) stop with the script.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
# Installed above: the side scripts need not check again.
export ZME_DEPS_INSTALLED=1
side_jobs=()
lowest_priority=(nice -n 19)
if command -v chrt >/dev/null 2>&1 && chrt --idle 0 true 2>/dev/null; then lowest_priority=(chrt --idle 0); fi
side_job() {
  local name="$1"
  shift
  side_jobs+=("$name")
  (
    begin=$SECONDS status=0
    "${lowest_priority[@]}" "$@" >"$side/$name.log" 2>&1 || status=$?
    echo "$status $((SECONDS - begin))" >"$side/$name.result"
  ) &
}

# The operator's kit needs no build. Fuzzing starts beside the debug build too: the process-level tests
# leave less CPU to the side jobs than the side jobs need, and the debug build leaves some idle (resolving,
# linking); the sanitized builds, the largest, wait for the debug build (beside it, they doubled its time).
# Fuzzing here is a smoke test and the replay of every saved crash, within the 10 minutes the suite may
# take on 2 cores: a debug fuzz build (less than half the CPU time of a release build, docs/testing.md)
# and 5 s a target. `scripts/fuzz.sh` alone builds release and runs 30 s a target.
side_job test-rules scripts/test-rules.sh
export FUZZ_CONFIGURATION="${FUZZ_CONFIGURATION:-debug}"
side_job fuzz scripts/fuzz.sh "${FUZZ_SECONDS:-5}"

# The in-process suites run under each sanitizer (below), not a third time unsanitized: this build holds
# the executables and the process-level tests only (ZME_PROCESS_LEVEL_TESTS_ONLY, see Package.swift), a
# third less CPU time than the whole package with every test target. `swift test` runs everything.
t=$SECONDS
ZME_PROCESS_LEVEL_TESTS_ONLY=1 swift build --build-tests
took "build (debug: executables, process-level tests)" "$t"

# Each sanitizer a job of its own: two builds at once keep both cores busy through each one's
# single-threaded stretches (resolving, linking, starting the test runner).
side_job tsan scripts/sanitizers.sh thread --no-integration
side_job asan scripts/sanitizers.sh address --no-integration

# The process-level tests one at a time: they start real processes and block their threads while waiting
# on them; on a 2-core machine, in parallel, they would starve each other's timing. Arguments given to
# this script go to them.
failed=0
t=$SECONDS
status=0
ZME_PROCESS_LEVEL_TESTS_ONLY=1 swift test --skip-build --disable-xctest --no-parallel --filter IntegrationTests "$@" \
  || status=$?
took "process-level tests" "$t" "$([ "$status" -eq 0 ] || echo "  FAILED")"
[ "$status" -eq 0 ] || failed=1

t=$SECONDS
wait
took "waiting for the side jobs after them" "$t"
for name in "${side_jobs[@]}"; do
  status=1 seconds=0
  [ -f "$side/$name.result" ] && read -r status seconds <"$side/$name.result"
  echo
  echo "==== side job $name ($seconds s, exit $status; log $side/$name.log)"
  if [ "$status" -ne 0 ]; then
    grep -v "Cannot export local symbol" "$side/$name.log" | tail -150
    failed=1
  elif [ "$name" = test-rules ]; then
    tail -3 "$side/$name.log"
  else
    # The summary at the end of a passing run.
    sed -n '/^\(fuzz\|sanitizers\) summary/,$p' "$side/$name.log"
  fi
  timings+=("$(printf '%-44s %4d s%s' "  side job: $name" "$seconds" "$([ "$status" -eq 0 ] || echo "  FAILED")")")
done

echo
echo "test.sh: $((SECONDS - start)) s in all"
printf '  %s\n' "${timings[@]}"
exit "$failed"
