#!/usr/bin/env bash
# Fleet-scale benchmark: the exporter against the simulator with 100, 1,000 and 10,000 meters, and its
# /metrics against a conventional client_golang exporter serving the same series. Prints one Markdown
# table (see scripts/bench.py). Options: --sizes 100,1000,10000  --duration 10  --quick  --workdir DIR
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

exec python3 scripts/bench.py --bin "$bin" --goexporter "$scratch/goexporter" "$@"
