#!/usr/bin/env bash
# A local monitoring stack without containers, on loopback: the simulator (meters that run and sometimes
# fail), the exporter, and Prometheus and Alertmanager from Debian's packages with this repository's
# alert rules. Ctrl-C stops everything and removes the temporary files.
#
#   scripts/stack.sh            run until Ctrl-C; watch alerts at http://127.0.0.1:9093
#   scripts/stack.sh --check    exit 0 once Alertmanager has received a ZuoraMediationMeterRunFailed
#                               alert (1 after 3 minutes without one): what the test suite runs
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
[ "${1:-}" = "--check" ] && check=true
sim_port=${SIMULATOR_PORT:-18080}
exporter_port=${EXPORTER_PORT:-9817}
prometheus_port=${PROMETHEUS_PORT:-9090}
alertmanager_port=${ALERTMANAGER_PORT:-9093}

if [ -n "${ZME_BIN_DIR:-}" ]; then
  bin=$ZME_BIN_DIR  # prebuilt binaries (the test suite passes its own)
else
  scripts/install-deps.sh
  swift build --product zuora-mediation-simulator >/dev/null
  swift build --product zuora-mediation-exporter >/dev/null
  bin=$(swift build --show-bin-path)
fi
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The simulator also pushes both callouts to the exporter, as Zuora would (Basic auth after the challenge).
callout_password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
printf '%s' "$callout_password" >"$work/callout-password"
hooks="http://127.0.0.1:$exporter_port/webhooks"
"$bin/zuora-mediation-simulator" --web.listen-address "127.0.0.1:$sim_port" --meters 101,102,103,104,105 \
  --step 2s --client-id stack-client --client-secret stack-secret \
  --callout.status-url "$hooks/meter-session-status" --callout.periodic-url "$hooks/meter-session-periodic-status" \
  --callout.username zuora --callout.password "$callout_password" --callout.periodic-interval 5s \
  --callout.retry-delay 2s >"$work/simulator.log" 2>&1 &
# The exporter's first polls should find the simulator listening.
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$sim_port/_control/stats" >/dev/null && break; sleep 0.1; done
cat >"$work/exporter.yml" <<YAML
zuora:
  base_url: http://127.0.0.1:$sim_port
poll_interval: 1s
idle_poll_interval: 1s
meters:
$(for id in 101 102 103 104 105; do printf '  - id: %s\n' "$id"; done)
summary:
  enabled: true
webhook:
  basic_auth:
    username: zuora
    password_file: $work/callout-password
YAML
ZUORA_CLIENT_ID=stack-client ZUORA_CLIENT_SECRET=stack-secret "$bin/zuora-mediation-exporter" \
  --config.file "$work/exporter.yml" --web.listen-address "127.0.0.1:$exporter_port" >"$work/exporter.log" 2>&1 &

# Alerts stay on this machine: Alertmanager gets a receiver with no integrations (see them in its UI).
cat >"$work/alertmanager.yml" <<YAML
route:
  receiver: local
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: local
YAML
prometheus-alertmanager --config.file "$work/alertmanager.yml" --storage.path "$work/alertmanager" \
  --web.listen-address "127.0.0.1:$alertmanager_port" --cluster.listen-address "" >"$work/alertmanager.log" 2>&1 &
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files: ['$PWD/deploy/prometheus/rules.yml']
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$alertmanager_port']
scrape_configs:
  - job_name: zuora-mediation
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
YAML
prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/prometheus" \
  --web.listen-address "127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &

echo "stack: simulator 127.0.0.1:$sim_port, exporter http://127.0.0.1:$exporter_port/,"
echo "       Prometheus http://127.0.0.1:$prometheus_port/alerts, Alertmanager http://127.0.0.1:$alertmanager_port/"
if ! $check; then
  echo "stack: simulated runs fail one time in five; ZuoraMediationMeterRunFailed fires within a minute. Ctrl-C stops."
  wait -n
  exit 0
fi
for _ in $(seq 1 180); do
  if curl -sf "http://127.0.0.1:$alertmanager_port/api/v2/alerts" | grep -q '"alertname":"ZuoraMediationMeterRunFailed"'; then
    echo "stack: Alertmanager received ZuoraMediationMeterRunFailed"
    exit 0
  fi
  sleep 1
done
echo "stack: no ZuoraMediationMeterRunFailed alert within 3 minutes" >&2
tail -n 20 "$work"/*.log >&2
exit 1
