#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, checks the alert rules, runs the in-process Swift
# tests, then the process-level tests (the simulator, the exporter, Prometheus, Alertmanager, curl and wrk
# as real processes) while, beside them, the fuzz targets run and the in-process suites run under
# ThreadSanitizer and AddressSanitizer. Exits 1 if any part failed. Prints the time of each part.
# The sanitized pass over the process-level tests (sanitized exporter and simulator binaries) takes longer
# than the rest together: it is `scripts/sanitizers.sh` on its own (see docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
timings=()
took() { timings+=("$(printf '%-44s %4d s' "$1" "$((SECONDS - $2))")"); }

t=$SECONDS
scripts/install-deps.sh
took "install-deps" "$t"
t=$SECONDS
swift build --build-tests
took "build (debug, with tests)" "$t"
t=$SECONDS
scripts/test-rules.sh
took "operator's kit (scripts/test-rules.sh)" "$t"
t=$SECONDS
swift test --skip-build --disable-xctest --filter 'MediationCoreTests|SimulatorCoreTests|ZuoraClientTests'
took "in-process tests" "$t"

# The fuzz targets and the sanitized builds keep both cores busy for minutes; the process-level tests
# mostly wait on the processes they start. So they run at the same time, the CPU-bound side at the lowest
# priority (nice 19): the process-level tests get the CPU whenever they want it and keep their timing, the
# builds take what is left. Their output goes to log files, printed when they end.
side=$(mktemp -d "${TMPDIR:-/tmp}/mediation-test.XXXXXX")
side_job() {
  local name="$1"
  shift
  local begin=$SECONDS status=0
  nice -n 19 "$@" >"$side/$name.log" 2>&1 || status=$?
  echo "$status $((SECONDS - begin))" >"$side/$name.result"
}
# A debug fuzz build: 86 CPU seconds against 204 for release (measured 2026-11-29), for 10 s a target
# where release would run 1.3-4x more inputs; `scripts/fuzz.sh` alone builds release.
export FUZZ_CONFIGURATION="${FUZZ_CONFIGURATION:-debug}"
side_job fuzz scripts/fuzz.sh "${FUZZ_SECONDS:-10}" &
side_job sanitizers scripts/sanitizers.sh --no-integration &

# One at a time: they start real processes and block their threads while waiting on them; on a 2-core
# machine in parallel they would starve each other's timing. Arguments given to this script go here.
t=$SECONDS
integration=0
swift test --skip-build --disable-xctest --no-parallel --filter IntegrationTests "$@" || integration=$?
took "process-level tests" "$t"
if [ "$integration" -ne 0 ]; then timings[-1]+="  FAILED"; fi

t=$SECONDS
wait
took "waiting for fuzzing and sanitizers after them" "$t"
failed=$integration
for name in fuzz sanitizers; do
  status=1 seconds=0
  [ -f "$side/$name.result" ] && read -r status seconds <"$side/$name.result"
  echo
  echo "==== scripts/$name.sh (beside the process-level tests, $seconds s, exit $status; log $side/$name.log)"
  if [ "$status" -ne 0 ]; then
    grep -v "Cannot export local symbol" "$side/$name.log" | tail -150
    failed=1
  else
    # The summary at the end of a passing run.
    sed -n '/^\(fuzz\|sanitizers\) summary/,$p' "$side/$name.log"
  fi
  timings+=("$(printf '%-44s %4d s%s' "  beside them: scripts/$name.sh" "$seconds" "$([ "$status" -eq 0 ] || echo "  FAILED")")")
done

echo
echo "test.sh: $((SECONDS - start)) s in all"
printf '  %s\n' "${timings[@]}"
exit "$failed"
