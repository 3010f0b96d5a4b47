#!/usr/bin/env bash
# Fleet-scale benchmark: the exporter against the simulator with 100, 1,000 and 10,000 meters, and its
# /metrics against a conventional client_golang exporter serving the same series. Two steps: measure
# (scripts/bench.py, writes the figures to .build-release/bench-results.json), then report
# (scripts/bench_report.py, prints one Markdown table from that file; run it again to reprint a run).
# Options (passed to the measure step): --sizes 100,1000,10000  --duration 10  --quick  --workdir DIR
#   --live-interval 30 (the scrapes-while-polling runs; 0 skips them)
# Installs what it needs from Debian (root or sudo). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
packages=(golang-go golang-github-prometheus-client-golang-dev wrk python3)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "bench: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scratch=.build-release
echo "bench: building the Swift products (release)" >&2
swift build -c release --scratch-path "$scratch" >&2
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
echo "bench: building the Go comparator" >&2
# Offline, against Debian's Go packages (GOPATH mode: no module download).
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/$scratch/go-cache" GOFLAGS= \
  go build -o "$scratch/goexporter" ./bench/goexporter

results="$scratch/bench-results.json"
rm -f "$results"
status=0
python3 scripts/bench.py --bin "$bin" --goexporter "$scratch/goexporter" "$@" --json "$results" || status=$?
# A failed run still reports the sizes it measured; an interrupted one (130) reports nothing.
if [ "$status" -ne 130 ] && [ -s "$results" ]; then
  python3 scripts/bench_report.py "$results" || status=1
fi
exit "$status"
