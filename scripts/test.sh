#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, checks the alert rules, runs every Swift test
# (unit tests and integration tests that start the simulator, the exporter and a real Prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --build-tests
if [ -x scripts/test-rules.sh ]; then
  scripts/test-rules.sh
fi
# In-process tests first, in parallel. The integration tests start real processes and block their
# threads while waiting on them, so they run on their own and one at a time: on a 2-core machine they
# would otherwise starve the in-process tests' async work and each other's timing.
swift test --skip-build --disable-xctest --filter 'MediationCoreTests|SimulatorCoreTests'
swift test --skip-build --disable-xctest --no-parallel --filter IntegrationTests "$@"
