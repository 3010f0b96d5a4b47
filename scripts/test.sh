#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, checks the alert rules, fuzzes, runs the in-process
# Swift tests under the sanitizers, then every Swift test (in-process tests, and integration tests that
# start the simulator, the exporter, Prometheus, Alertmanager, curl and wrk as real processes).
# The sanitized pass over the integration tests (sanitized exporter and simulator binaries) takes longer
# than the rest together: it is `scripts/sanitizers.sh` on its own (see docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --build-tests
scripts/test-rules.sh
# Fuzz targets for a bounded time (replaying every saved crash first), then the in-process suites under
# ThreadSanitizer and AddressSanitizer.
scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
scripts/sanitizers.sh --no-integration
# In-process tests first, in parallel. The integration tests start real processes and block their
# threads while waiting on them, so they run on their own and one at a time: on a 2-core machine they
# would otherwise starve the in-process tests' async work and each other's timing.
swift test --skip-build --disable-xctest --filter 'MediationCoreTests|SimulatorCoreTests|ZuoraClientTests'
swift test --skip-build --disable-xctest --no-parallel --filter IntegrationTests "$@"
