#!/usr/bin/env bash
# Demo without a Zuora account: the simulator plays Zuora (five meters running through their lifecycle,
# some runs failing), the exporter polls it and serves http://localhost:9817/metrics. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --product zuora-mediation-simulator
swift build --product zuora-mediation-exporter
bin=$(swift build --show-bin-path)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM

sim_port=${SIMULATOR_PORT:-18080}
listen=${LISTEN:-:9817}
# The simulator pushes both callouts to the exporter as Zuora would (Basic auth after the 401 challenge),
# beside the exporter's polling: status changes, and record counts of running sessions every 10 s.
callout_password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
printf '%s' "$callout_password" >"$work/callout-password"
hooks="http://127.0.0.1:${listen##*:}/webhooks"
"$bin/zuora-mediation-simulator" --web.listen-address "127.0.0.1:$sim_port" \
  --meters 101,102,103,104,105 --step 5s --client-id demo-client --client-secret demo-secret \
  --callout.status-url "$hooks/meter-session-status" --callout.periodic-url "$hooks/meter-session-periodic-status" \
  --callout.username zuora --callout.password "$callout_password" --callout.periodic-interval 10s \
  --callout.retry-delay 5s &
# The exporter's first polls should find the simulator listening.
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$sim_port/_control/stats" >/dev/null && break; sleep 0.1; done
cat > "$work/config.yml" <<YAML
zuora:
  base_url: http://127.0.0.1:$sim_port
  timeout: 5s
poll_interval: 2s
meters:
  - id: 101
    name: Usage ingestion
  - id: 102
    name: Rating
  - id: 103
    name: Aggregation
  - id: 104
    name: Invoice feed
  - id: 105
    name: Partner usage
# Record counts of every ended run (Zuora's summary API): how many records failed, in which operator.
summary:
  enabled: true
webhook:
  basic_auth:
    username: zuora
    password_file: $work/callout-password
YAML
ZUORA_CLIENT_ID=demo-client ZUORA_CLIENT_SECRET=demo-secret \
  "$bin/zuora-mediation-exporter" --config.file "$work/config.yml" --web.listen-address "$listen" &
echo "demo: exporter on http://localhost:9817/ (metrics at /metrics); simulator on 127.0.0.1:$sim_port. Ctrl-C stops."
wait -n
