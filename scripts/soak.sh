#!/usr/bin/env bash
# Soak test (not part of scripts/test.sh): 10 minutes, 1,000 meters, 10 % injected faults, a scrape
# every second. Options go to scripts/soak.py, e.g. scripts/soak.sh --minutes 2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product zuora-mediation-simulator >/dev/null
swift build -c release --product zuora-mediation-exporter >/dev/null
exec python3 scripts/soak.py --bin "$(swift build -c release --show-bin-path)" "$@"
