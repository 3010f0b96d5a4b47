#!/bin/sh
# Checks the operator's kit: Prometheus rules and their unit tests, the example Prometheus and
# Alertmanager configs, that the rules file, the Kubernetes PrometheusRule and the dashboard are what
# the jsonnet mixin (mixin/) generates, that the Kubernetes overlays render, and the Grafana dashboard JSON. Installs
# nothing; exits non-zero on the first failing step.
#
#   scripts/test-rules.sh
set -eu

cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found. Install it, e.g. 'apt-get install prometheus' (Debian/Ubuntu), or put" >&2
    echo "the promtool binary from https://prometheus.io/download/ on PATH." >&2
    exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: 'apt-get install python3 python3-yaml'." >&2
    exit 2
fi

step "promtool check rules"
promtool check rules deploy/prometheus/rules.yml

step "promtool test rules"
promtool test rules deploy/prometheus/tests/*.yml

step "promtool check config (example prometheus.yml)"
promtool check config deploy/prometheus/prometheus.yml

step "amtool check-config (example alertmanager.yml)"
if command -v amtool >/dev/null 2>&1; then
    amtool check-config deploy/alertmanager/alertmanager.yml
else
    echo "SKIPPED: amtool not found ('apt-get install prometheus-alertmanager' provides it)"
fi

step "mixin drift: rules.yml, PrometheusRule, dashboard (scripts/gen-mixin.py --check)"
if ! command -v jsonnet >/dev/null 2>&1; then
    echo "jsonnet not found: 'apt-get install jsonnet' (scripts/install-deps.sh installs it)." >&2
    exit 2
fi
python3 scripts/gen-mixin.py --check
python3 scripts/gen-prometheusrule.py --check

step "Kubernetes overlays render (kubectl kustomize)"
if command -v kubectl >/dev/null 2>&1; then
    for overlay in deploy/kubernetes/overlays/*/; do
        rendered=$(kubectl kustomize "$overlay")
        printf '%s\n' "$rendered" | python3 -c 'import sys, yaml; list(yaml.safe_load_all(sys.stdin))'
        echo "OK: $overlay renders"
    done
    echo "(scripts/check-kubernetes.py BINARY checks them against the exporter: DeploymentTests runs it)"
else
    echo "SKIPPED: kubectl not found"
fi

step "Grafana dashboard JSON"
for f in grafana/dashboards/*.json; do
    python3 -m json.tool "$f" >/dev/null
    echo "OK: $f parses"
done

printf '\nAll checks passed.\n'
