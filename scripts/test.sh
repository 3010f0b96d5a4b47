#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, checks the alert rules, fuzzes, runs every Swift
# test under the sanitizers, then every Swift test (unit tests, and integration tests that
# start the simulator, the exporter, Prometheus, Alertmanager, curl and wrk as real processes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --build-tests
scripts/test-rules.sh
# Fuzz targets for a bounded time (replaying every saved crash first), then the whole suite (in-process
# and integration tests, with sanitized exporter and simulator binaries) under ThreadSanitizer and
# AddressSanitizer.
scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
scripts/sanitizers.sh
# In-process tests first, in parallel. The integration tests start real processes and block their
# threads while waiting on them, so they run on their own and one at a time: on a 2-core machine they
# would otherwise starve the in-process tests' async work and each other's timing.
swift test --skip-build --disable-xctest --filter 'MediationCoreTests|SimulatorCoreTests'
swift test --skip-build --disable-xctest --no-parallel --filter IntegrationTests "$@"
