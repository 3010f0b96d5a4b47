#!/usr/bin/env bash
# Runs the test suites under ThreadSanitizer and AddressSanitizer.
#
#   scripts/sanitizers.sh [thread] [address] [--no-integration]     default: both, with the integration tests
#
# For each sanitizer: builds everything with --sanitize (scratch path .build-tsan / .build-asan; with
# --no-integration only the in-process test runner, in .build-tsan-unit / .build-asan-unit), runs the
# in-process suites (MediationCoreTests, SimulatorCoreTests, ZuoraClientTests), then the integration tests, which start the
# sanitized exporter and simulator binaries of the same build. Every process (the test runner and each
# exporter/simulator it starts) writes its sanitizer reports to a log directory; the script prints them
# and exits 1 if there is any report or any test failed. Prints the time of each part.
#
# ThreadSanitizer and Synchronization.Mutex: the contended path of Mutex (a futex in the uninstrumented
# libswiftSynchronization.so) is invisible to TSan, which then reports every access made under a Mutex
# that was ever contended as a race. The TSan runs therefore preload a small library (built below from the
# C source in this script) that tells TSan about that path's acquire and release. Without it (set
# ZME_TSAN_NO_MUTEX_SHIM=1 to see) the in-process suite alone gives a handful of such false reports.
#
# LeakSanitizer: leaks inside the toolchain's Foundation (not this project's code) are suppressed, each
# named below with the call that shows it; leaks in the project's own code are reported.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=()
integration=1
for arg in "$@"; do
  case "$arg" in
    thread | address) sanitizers+=("$arg") ;;
    --no-integration) integration=0 ;;
    *) echo "usage: scripts/sanitizers.sh [thread] [address] [--no-integration]" >&2; exit 2 ;;
  esac
done
[ ${#sanitizers[@]} -eq 0 ] && sanitizers=(thread address)
# Without the process-level tests, the package is built without them (see Package.swift); a separate
# scratch path, so that a full sanitized build is not rebuilt each time the other kind runs.
suffix=""
if [ "$integration" -eq 0 ]; then
  export ZME_IN_PROCESS_TESTS_ONLY=1
  suffix="-unit"
fi

if [ -x scripts/install-deps.sh ] && [ "${ZME_DEPS_INSTALLED:-0}" != 1 ]; then scripts/install-deps.sh; fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/mediation-sanitizers.XXXXXX")

# The Mutex annotations for TSan (see above), built with the toolchain's clang.
build_mutex_shim() {
  local clang
  clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
  [ -x "$clang" ] || clang=clang
  cat >"$logs/tsan-mutex.c" <<'SHIM'
// ThreadSanitizer annotations for Synchronization.Mutex on Linux. Its uncontended path is an atomic
// compare-exchange inlined into (and instrumented in) the caller, but the contended path (_lockSlow /
// _unlockSlow, a futex) lives in the uninstrumented libswiftSynchronization.so: TSan then sees no
// happens-before between two critical sections and reports every access in them as a race. This
// library, preloaded, wraps those two functions and tells TSan about the acquire and the release.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>

typedef void (*acquire_release_fn)(void *);
typedef __attribute__((swiftcall)) void (*lock_slow_fn)(uint32_t, void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) void (*unlock_slow_fn)(void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) _Bool (*try_lock_slow_fn)(void *__attribute__((swift_context)));

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }
static void tsan(const char *name, void *address) {
  acquire_release_fn fn = (acquire_release_fn)dlsym(RTLD_DEFAULT, name);
  if (fn) fn(address);
}

__attribute__((swiftcall)) void lock_slow(uint32_t self_id, void *__attribute__((swift_context)) self)
  __asm__(LOCK_SLOW);
__attribute__((swiftcall)) void lock_slow(uint32_t self_id, void *__attribute__((swift_context)) self) {
  ((lock_slow_fn)next(LOCK_SLOW))(self_id, self);
  tsan("__tsan_acquire", self);
}

__attribute__((swiftcall)) void unlock_slow(void *__attribute__((swift_context)) self) __asm__(UNLOCK_SLOW);
__attribute__((swiftcall)) void unlock_slow(void *__attribute__((swift_context)) self) {
  tsan("__tsan_release", self);
  ((unlock_slow_fn)next(UNLOCK_SLOW))(self);
}

__attribute__((swiftcall)) _Bool try_lock_slow(void *__attribute__((swift_context)) self) __asm__(TRY_LOCK_SLOW);
__attribute__((swiftcall)) _Bool try_lock_slow(void *__attribute__((swift_context)) self) {
  _Bool locked = ((try_lock_slow_fn)next(TRY_LOCK_SLOW))(self);
  if (locked) tsan("__tsan_acquire", self);
  return locked;
}
SHIM
  "$clang" -shared -fPIC -O2 -o "$logs/libtsan-mutex.so" "$logs/tsan-mutex.c" -ldl
}
# A trap must end the process with the sanitizer's report, not wait on Swift's interactive backtracer.
export SWIFT_BACKTRACE=enable=no
# Sanitized code runs 2-15x slower: tests with latency bounds can read this to relax them.
export ZME_SANITIZER
failed=0
summary=()

# Runs one step, logs its output, records its time and result.
step() {
  local label="$1" log="$2"
  shift 2
  local start=$SECONDS status=0
  echo "sanitizers: $label: $*"
  "$@" >"$log" 2>&1 || status=$?
  local took=$((SECONDS - start))
  local result="ok"
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status)"
    failed=1
    # The failed expectations first (the tail alone may not reach them), then the end of the output.
    echo "---- $label: failures ($log) ----"
    grep -E -A6 "✘|Expectation failed|recorded an issue|error:" "$log" | grep -v "Cannot export local symbol" | head -80 || true
    echo "---- $label: end of its output ----"
    grep -v "Cannot export local symbol" "$log" | tail -30 || true
    echo "----"
  fi
  # swift test's closing line, when there is one.
  local tests
  tests=$(grep -E "Test run with [0-9]+ tests?.* (passed|failed)" "$log" | tail -1 | sed 's/^[^A-Z]*//' || true)
  summary+=("$(printf '%-34s %5d s  %s%s' "$label" "$took" "$result" "${tests:+  ($tests)}")")
  return 0
}

# Prints the sanitizer reports written under a prefix (one file per process) or to the step's output:
# each distinct report (kind + first frame in the project's Sources/) once in full, with how often it
# occurred. Returns 1 when there is any report.
reports() {
  local label="$1" prefix="$2" output="$3"
  local files=()
  mapfile -t files < <(find "$(dirname "$prefix")" -maxdepth 1 -type f -name "$(basename "$prefix").[0-9]*" | sort)
  files+=("$output")
  local digest="$logs/$(basename "$prefix").reports"
  awk '
    /WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/ {
      if (inside) finish()
      inside = 1; text = ""; kind = $0; sub(/^==[0-9]+==/, "", kind); sub(/ \(pid=[0-9]+\)/, "", kind); where = ""
    }
    inside {
      text = text $0 "\n"
      if (where == "" && match($0, /\/Sources\/[^ ]*:[0-9]+/)) where = substr($0, RSTART, RLENGTH)
      if ($0 ~ /^SUMMARY:/) finish()
    }
    function finish() {
      key = kind " at " (where == "" ? "(no frame in Sources/)" : where)
      if (!(key in count)) { order[++n] = key; example[key] = text }
      count[key]++; inside = 0
    }
    END {
      if (inside) finish()
      for (i = 1; i <= n; i++) {
        printf "== %d x %s\n%s\n", count[order[i]], order[i], example[order[i]]
      }
      total = 0; for (k in count) total += count[k]; print "TOTAL " total
    }
  ' "${files[@]}" >"$digest"
  local total
  total=$(sed -n 's/^TOTAL //p' "$digest")
  if [ "$total" -gt 0 ]; then
    echo "---- $label: $total sanitizer report(s); each distinct one once (all in ${prefix}.*) ----"
    grep -v '^TOTAL ' "$digest" | head -400
    echo "----"
  fi
  summary+=("$(printf '%-34s        %s' "$label reports" "$total sanitizer report(s)")")
  local line
  while read -r line; do summary+=("$(printf '%-34s          %s' "" "$line")"); done < <(sed -n 's/^== //p' "$digest")
  [ "$total" -eq 0 ]
}

for sanitizer in "${sanitizers[@]}"; do
  case "$sanitizer" in
    thread)
      short=tsan
      options_var=TSAN_OPTIONS
      options="halt_on_error=0:second_deadlock_stack=1:handle_sigill=1"
      preload=""
      if [ "${ZME_TSAN_NO_MUTEX_SHIM:-0}" != 1 ]; then
        build_mutex_shim
        preload="$logs/libtsan-mutex.so"
      fi
      ;;
    address)
      short=asan
      options_var=ASAN_OPTIONS
      options="halt_on_error=0:detect_leaks=1:handle_sigill=1:detect_stack_use_after_return=1"
      preload=""
      cat >"$logs/lsan.supp" <<'SUPP'
# swift-foundation (Swift 6.3.1): String(contentsOf:encoding:) of an EMPTY file leaks the 4096-byte read
# buffer (readBytesFromFile); the integration harness reads curl's header file that way.
leak:FoundationEssentials17readBytesFromFile
# swift-corelibs-foundation: Process.run() leaves a weak-reference side table behind.
leak:Foundation7ProcessC3runyyKF
SUPP
      export LSAN_OPTIONS="suppressions=$logs/lsan.supp:print_suppressions=1"
      ;;
  esac
  scratch=".build-$short$suffix"
  ZME_SANITIZER=$sanitizer
  before=$failed
  failed=0
  if [ "$integration" -eq 1 ]; then
    step "$short build" "$logs/$short-build.log" \
      swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
  else
    # Only the test runner and what it needs: not the executables, their dependencies (argument parser,
    # service lifecycle, collections) nor the process-level tests (see ZME_IN_PROCESS_TESTS_ONLY above).
    step "$short build" "$logs/$short-build.log" \
      swift build --product zuora-mediation-exporterPackageTests --sanitize="$sanitizer" --scratch-path "$scratch"
  fi
  if [ "$failed" -ne 0 ]; then continue; fi
  failed=$before

  prefix="$logs/$short-unit"
  step "$short in-process tests" "$logs/$short-unit.log" \
    env "$options_var=$options:log_path=$prefix" ${preload:+LD_PRELOAD="$preload"} \
    swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --disable-xctest \
    --filter 'MediationCoreTests|SimulatorCoreTests|ZuoraClientTests'
  reports "$short in-process tests" "$prefix" "$logs/$short-unit.log" || failed=1

  if [ "$integration" -eq 1 ]; then
    prefix="$logs/$short-integration"
    step "$short integration tests" "$logs/$short-integration.log" \
      env "$options_var=$options:log_path=$prefix" ${preload:+LD_PRELOAD="$preload"} \
      swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --disable-xctest \
      --no-parallel --filter IntegrationTests
    reports "$short integration tests" "$prefix" "$logs/$short-integration.log" || failed=1
  fi
done

echo
echo "sanitizers summary (logs in $logs):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
