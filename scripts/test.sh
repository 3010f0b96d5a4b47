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
swift test --skip-build --disable-xctest "$@"
