#!/usr/bin/env python3
"""Render every Kubernetes overlay and check the objects against the exporter binary.

    scripts/check-kubernetes.py .build/debug/zuora-mediation-exporter
    scripts/check-kubernetes.py [--quiet] [--kubectl PATH] BINARY [OVERLAY_DIR ...]

For each overlay (default: every deploy/kubernetes/overlays/*/), `kubectl kustomize` must render it,
and then:
  - every flag in the exporter container's args is listed by `BINARY --help`, and $(VARS) are defined;
  - the container's ports agree with the probes, the Services (metrics and headless), the
    NetworkPolicy, the ServiceMonitor and the Ingress (every named or numbered port resolves);
  - --total-shards equals the replica count (no flag: one replica), --shard is the pod's ordinal;
  - --shard.peer-url-template names NAME-{shard}.SERVICE:PORT, NAME the StatefulSet, SERVICE its
    serviceName and a headless Service selecting its pods, PORT a container port;
  - --shard.peer-secret-file and the config's *_file paths are keys of mounted Secrets;
  - the ConfigMap of --config.file is rendered (under its generated, hashed name, referenced by the
    pods) and passes `BINARY --config.check` (secret paths pointed at temporary files);
  - the ServiceMonitor selects exactly one Service, whose name is the job the alert rules expect;
    ServiceMonitor and PrometheusRule carry the same selection labels; the PrometheusRule holds
    deploy/prometheus/rules.yml and the dashboard ConfigMap holds grafana/dashboards/*.json.
Prints OK/FAIL lines; exits 1 when anything fails, 2 when it cannot run. Needs PyYAML and kubectl.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

try:
    import yaml
except ImportError:
    sys.exit("check-kubernetes.py needs PyYAML: apt-get install python3-yaml (or pip install pyyaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORTER_IMAGE = "zuora-mediation-exporter"
# Flags that the peer-forwarding work adds to the binary; named in the failure so that a reader knows
# the failure is expected until that work is merged.
PEER_FLAGS = {"--shard.peer-url-template", "--shard.peer-secret-file"}


class Checker:
    def __init__(self, binary, help_text, quiet=False):
        self.binary = binary
        self.quiet = quiet
        self.help = help_text
        self.failures = 0
        self.missing_flags = set()

    def ok(self, overlay, message):
        if not self.quiet:
            print(f"OK   [{overlay}] {message}")

    def fail(self, overlay, message):
        self.failures += 1
        print(f"FAIL [{overlay}] {message}")

    def expect(self, overlay, condition, ok_message, fail_message):
        (self.ok if condition else self.fail)(overlay, ok_message if condition else fail_message)
        return condition


def matches(selector, labels):
    """A selector selects `labels`: a LabelSelector (matchLabels; matchExpressions are not used here and
    count as not matching) or a Service's plain map."""
    if not selector or selector.get("matchExpressions"):
        return False
    wanted = selector["matchLabels"] if "matchLabels" in selector else selector
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def flag_values(args, name):
    """Values of --name=VALUE or --name VALUE in args."""
    values = []
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            values.append(arg[len(name) + 1:])
        elif arg == name and i + 1 < len(args):
            values.append(args[i + 1])
    return values


def mounted_file(pod_spec, container, path, objects):
    """Where `path` comes from: ('configMap'|'secret', object name, key), or None.

    Follows the container's volumeMounts to configMap, secret and projected volumes (items honoured).
    """
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(root):
            continue
        relative = path[len(root):]
        volume = volumes.get(mount["name"], {})
        if "subPath" in mount:
            continue
        sources = []
        if "configMap" in volume:
            sources.append(("configMap", volume["configMap"]["name"], volume["configMap"].get("items")))
        if "secret" in volume:
            sources.append(("secret", volume["secret"]["secretName"], volume["secret"].get("items")))
        for source in volume.get("projected", {}).get("sources", []):
            for kind in ("configMap", "secret"):
                if kind in source:
                    sources.append((kind, source[kind]["name"], source[kind].get("items")))
        for kind, name, items in sources:
            obj = objects.get(("ConfigMap" if kind == "configMap" else "Secret", name))
            keys = set((obj or {}).get("data", {}) or {}) | set((obj or {}).get("stringData", {}) or {})
            if items:
                for item in items:
                    if item["path"] == relative:
                        return kind, name, item["key"]
            elif relative in keys or obj is None:
                return kind, name, relative
    return None


def resolve_port(container_ports, port):
    """A container port number for a named or numbered port, or None."""
    if isinstance(port, int):
        return port if port in container_ports.values() else None
    if isinstance(port, str) and port.isdigit():
        return resolve_port(container_ports, int(port))
    return container_ports.get(port)


def check_overlay(checker, kubectl, overlay_dir):
    overlay = os.path.relpath(overlay_dir, ROOT)
    rendered = subprocess.run([kubectl, "kustomize", overlay_dir], capture_output=True, text=True)
    if not checker.expect(overlay, rendered.returncode == 0, "kubectl kustomize renders",
                          f"kubectl kustomize failed: {rendered.stderr.strip()}"):
        return
    try:
        documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    except yaml.YAMLError as error:
        checker.fail(overlay, f"rendered YAML does not parse: {error}")
        return
    checker.ok(overlay, f"rendered YAML parses ({len(documents)} objects)")
    objects = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    by_kind = {}
    for d in documents:
        by_kind.setdefault(d["kind"], []).append(d)
    namespaces = {d["metadata"].get("namespace") for d in documents}
    checker.expect(overlay, len(namespaces) == 1, "all objects in one namespace",
                   f"objects in several namespaces: {namespaces}")

    workloads = [d for d in by_kind.get("StatefulSet", []) + by_kind.get("Deployment", [])
                 if any(EXPORTER_IMAGE in c.get("image", "") for c in d["spec"]["template"]["spec"]["containers"])]
    if not checker.expect(overlay, len(workloads) == 1, "one exporter workload",
                          f"expected one exporter StatefulSet/Deployment, found {len(workloads)}"):
        return
    workload = workloads[0]
    wname = f"{workload['kind']}/{workload['metadata']['name']}"
    pod_spec = workload["spec"]["template"]["spec"]
    pod_labels = workload["spec"]["template"]["metadata"].get("labels", {})
    container = next(c for c in pod_spec["containers"] if EXPORTER_IMAGE in c.get("image", ""))
    args = container.get("command", [])[1:] + container.get("args", [])
    replicas = workload["spec"].get("replicas", 1)
    checker.expect(overlay, matches(workload["spec"]["selector"], pod_labels),
                   f"{wname} selector matches its pod labels", f"{wname} selector does not match its pod labels")

    # Flags.
    for arg in args:
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        listed = re.search(r"(?<![\w.-])" + re.escape(flag) + r"(?![\w.-])", checker.help) is not None
        note = (" (expected until the peer-forwarding branch that adds it is merged)" if flag in PEER_FLAGS else "")
        if not listed:
            checker.missing_flags.add(flag)
        checker.expect(overlay, listed, f"{wname} passes {flag}, which the exporter has",
                       f"{wname} passes {flag}, which `{os.path.basename(checker.binary)} --help` does not list: "
                       f"MISSING FLAG {flag}{note}")
    env_names = {e["name"] for e in container.get("env", [])}
    for var in sorted({v for arg in args for v in re.findall(r"\$\((\w+)\)", arg)}):
        checker.expect(overlay, var in env_names, f"$({var}) in the args is defined in env",
                       f"$({var}) in the args is not defined in the container's env")

    # Ports: the container's, and everything that points at them.
    container_ports = {p.get("name", str(p["containerPort"])): p["containerPort"] for p in container.get("ports", [])}
    if not checker.expect(overlay, bool(container_ports), f"container ports {container_ports}",
                          "the exporter container declares no port"):
        return
    listen = flag_values(args, "--web.listen-address")
    listen_port = int(listen[-1].rsplit(":", 1)[1]) if listen else 9817
    checker.expect(overlay, listen_port in container_ports.values(),
                   f"the exporter listens on {listen_port}, a container port",
                   f"the exporter listens on {listen_port}, which is not a container port {container_ports}")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = container.get(probe, {}).get("httpGet", {}).get("port")
        if port is not None:
            checker.expect(overlay, resolve_port(container_ports, port) is not None,
                           f"{probe} port {port} is a container port",
                           f"{probe} port {port} is not a container port {container_ports}")

    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    selecting = {name: s for name, s in services.items() if matches(s["spec"].get("selector"), pod_labels)}
    checker.expect(overlay, bool(selecting), f"Services selecting the pods: {sorted(selecting)}",
                   "no Service selects the exporter's pods")
    for name, service in selecting.items():
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            checker.expect(overlay, resolve_port(container_ports, target) is not None,
                           f"Service/{name} port {port.get('name', port['port'])} -> {target}, a container port",
                           f"Service/{name} port {port.get('name', port['port'])} targets {target}, "
                           f"not a container port {container_ports}")

    for policy in by_kind.get("NetworkPolicy", []):
        pname = f"NetworkPolicy/{policy['metadata']['name']}"
        if not matches(policy["spec"].get("podSelector"), pod_labels):
            checker.fail(overlay, f"{pname} does not select the exporter's pods")
            continue
        allowed = set()
        for port in {p.get("port") for rule in policy["spec"].get("ingress", []) for p in rule.get("ports", [])}:
            number = resolve_port(container_ports, port)
            checker.expect(overlay, number is not None, f"{pname} ingress port {port} is a container port",
                           f"{pname} ingress port {port} is not a container port {container_ports}")
            allowed.add(number)
        for name, number in container_ports.items():
            checker.expect(overlay, number in allowed, f"{pname} lets traffic in to port {name} ({number})",
                           f"{pname} lets no traffic in to container port {name} ({number})")
        egress_ports = {p.get("port") for rule in policy["spec"].get("egress", []) for p in rule.get("ports", [])}
        checker.expect(overlay, 53 in egress_ports and 443 in egress_ports, f"{pname} lets DNS and https out",
                       f"{pname} egress ports {egress_ports} lack 53 (DNS) or 443 (Zuora)")
        if "Egress" in policy["spec"].get("policyTypes", []) and flag_values(args, "--shard.peer-url-template"):
            peer_out = any(
                matches(peer.get("podSelector"), pod_labels) and "namespaceSelector" not in peer
                and any(resolve_port(container_ports, p.get("port")) for p in rule.get("ports", []))
                for rule in policy["spec"].get("egress", []) for peer in rule.get("to", []))
            checker.expect(overlay, peer_out, f"{pname} lets replicas forward to one another",
                           f"{pname} egress does not allow the exporter's pods to reach one another")

    monitors = by_kind.get("ServiceMonitor", [])
    for monitor in monitors:
        mname = f"ServiceMonitor/{monitor['metadata']['name']}"
        selected = [s for s in services.values() if matches(monitor["spec"]["selector"], s["metadata"].get("labels", {}))]
        if not checker.expect(overlay, len(selected) == 1,
                              f"{mname} selects one Service ({', '.join(s['metadata']['name'] for s in selected)})",
                              f"{mname} selects {len(selected)} Services "
                              f"({', '.join(s['metadata']['name'] for s in selected)}): each pod would be scraped "
                              "once per Service" if selected else f"{mname} selects no Service"):
            continue
        service = selected[0]
        names = {p.get("name") for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"].get("endpoints", []):
            checker.expect(overlay, endpoint.get("port") in names,
                           f"{mname} scrapes port {endpoint.get('port')} of Service/{service['metadata']['name']}",
                           f"{mname} scrapes port {endpoint.get('port')}, not a port of "
                           f"Service/{service['metadata']['name']} {sorted(n for n in names if n)}")
        job = service["metadata"]["labels"].get(monitor["spec"]["jobLabel"]) if monitor["spec"].get("jobLabel") \
            else service["metadata"]["name"]
        for rule in by_kind.get("PrometheusRule", []):
            jobs = set(re.findall(r'job="([^"]+)"', json.dumps(rule["spec"]).replace('\\"', '"')))
            checker.expect(overlay, jobs <= {job}, f"the alert rules' job {sorted(jobs)} is the scraped job {job}",
                           f"the alert rules expect job {sorted(jobs)}, the ServiceMonitor gives job {job}")

    # Selection labels of the prometheus-operator objects (set once, in monitoring/kustomization.yaml).
    rules = by_kind.get("PrometheusRule", [])
    if monitors and rules:
        def extra(o):
            return {k: v for k, v in o["metadata"].get("labels", {}).items() if not k.startswith("app.kubernetes.io/")}
        checker.expect(overlay, extra(monitors[0]) and extra(monitors[0]) == extra(rules[0]),
                       f"ServiceMonitor and PrometheusRule carry the selection labels {extra(monitors[0])}",
                       f"ServiceMonitor {extra(monitors[0])} and PrometheusRule {extra(rules[0])} selection labels differ")
        with open(os.path.join(ROOT, "deploy", "prometheus", "rules.yml"), encoding="utf-8") as f:
            source = yaml.safe_load(f)
        checker.expect(overlay, rules[0]["spec"]["groups"] == source["groups"],
                       "the PrometheusRule holds deploy/prometheus/rules.yml",
                       "the PrometheusRule differs from deploy/prometheus/rules.yml: run scripts/gen-mixin.py")

    # The Ingress for callouts.
    for ingress in by_kind.get("Ingress", []):
        iname = f"Ingress/{ingress['metadata']['name']}"
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                service = services.get(backend["name"])
                if not checker.expect(overlay, service is not None and backend["name"] in selecting,
                                      f"{iname} {path['path']} goes to Service/{backend['name']}",
                                      f"{iname} {path['path']} goes to Service/{backend['name']}, which does not "
                                      "exist or does not select the exporter's pods"):
                    continue
                port = backend["port"].get("name", backend["port"].get("number"))
                known = {p.get("name") for p in service["spec"]["ports"]} | {p["port"] for p in service["spec"]["ports"]}
                checker.expect(overlay, port in known, f"{iname} uses port {port} of Service/{backend['name']}",
                               f"{iname} uses port {port}, not a port of Service/{backend['name']}")
        checker.expect(overlay, bool(ingress["spec"].get("tls")), f"{iname} terminates TLS",
                       f"{iname} has no tls section (Zuora calls https URLs only)")

    # Shards.
    total = flag_values(args, "--total-shards")
    shard = flag_values(args, "--shard")
    if total:
        checker.expect(overlay, total[-1].isdigit() and int(total[-1]) == replicas,
                       f"--total-shards={total[-1]} equals the {replicas} replicas",
                       f"--total-shards={total[-1]} but {wname} has {replicas} replicas")
        ordinal = False
        if shard:
            refs = re.findall(r"^\$\((\w+)\)$", shard[-1])
            env = {e["name"]: e for e in container.get("env", [])}
            if refs and refs[0] in env:
                path = env[refs[0]].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
                ordinal = path == "metadata.labels['apps.kubernetes.io/pod-index']"
        checker.expect(overlay, ordinal and workload["kind"] == "StatefulSet",
                       "--shard is the StatefulSet pod's ordinal (label apps.kubernetes.io/pod-index)",
                       f"--shard={shard[-1] if shard else '(missing)'} is not the StatefulSet pod's ordinal")
    else:
        checker.expect(overlay, replicas == 1, "no --total-shards, one replica",
                       f"{wname} has {replicas} replicas but no --total-shards: every replica would poll every meter")

    template = flag_values(args, "--shard.peer-url-template")
    if total and int(total[-1] or 1) > 1:
        checker.expect(overlay, bool(template), "--shard.peer-url-template is set for the sharded replicas",
                       "sharded without --shard.peer-url-template: callouts reaching the wrong replica are not forwarded")
    if template:
        url = urlsplit(template[-1].replace("{shard}", "SHARD"))
        host = url.hostname or ""
        labels = host.split(".")
        service_name = workload["spec"].get("serviceName")
        headless = services.get(labels[1]) if len(labels) > 1 else None
        namespace = workload["metadata"].get("namespace")
        suffix_ok = labels[2:] in ([], [namespace] if namespace else [], [namespace, "svc"] if namespace else [],
                                   [namespace, "svc", "cluster", "local"] if namespace else [])
        checker.expect(
            overlay,
            workload["kind"] == "StatefulSet" and labels[0] == workload["metadata"]["name"].lower() + "-shard"
            and len(labels) > 1 and labels[1] == service_name and suffix_ok,
            f"peer template host {template[-1]} is NAME-{{shard}}.SERVICE of {wname} (serviceName {service_name})",
            f"peer template host in {template[-1]} is not {workload['metadata']['name']}-{{shard}}.{service_name} "
            "(the StatefulSet's pod DNS names in its headless Service, same namespace)")
        checker.expect(
            overlay,
            headless is not None and headless["spec"].get("clusterIP") == "None" and labels[1] in selecting,
            f"Service/{labels[1] if len(labels) > 1 else '?'} is headless and selects the pods",
            f"Service/{labels[1] if len(labels) > 1 else '?'} of the peer template is missing, not headless, "
            "or does not select the exporter's pods")
        port = url.port or (443 if url.scheme == "https" else 80)
        checker.expect(overlay, port in container_ports.values(), f"peer template port {port} is a container port",
                       f"peer template port {port} is not a container port {container_ports} "
                       "(pod DNS names reach the pod directly, not through the Service's port)")
        if headless is not None:
            checker.expect(overlay, any(resolve_port(container_ports, p.get("targetPort", p["port"])) == port
                                        for p in headless["spec"]["ports"]),
                           f"Service/{labels[1]} exposes port {port}", f"Service/{labels[1]} does not expose port {port}")
    for secret_path in flag_values(args, "--shard.peer-secret-file"):
        source = mounted_file(pod_spec, container, secret_path, objects)
        checker.expect(overlay, source is not None and source[0] == "secret" and ("Secret", source[1]) in objects,
                       f"--shard.peer-secret-file {secret_path} is key {source[2] if source else '?'} of "
                       f"Secret/{source[1] if source else '?'}",
                       f"--shard.peer-secret-file {secret_path} is not a key of a rendered Secret mounted in the pod")

    # Every ConfigMap and Secret the pods mount is rendered (generated names included).
    for volume in pod_spec.get("volumes", []):
        refs = []
        if "configMap" in volume:
            refs.append(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.append(("Secret", volume["secret"]["secretName"]))
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                refs.append(("ConfigMap", source["configMap"]["name"]))
            if "secret" in source:
                refs.append(("Secret", source["secret"]["name"]))
        for kind, name in refs:
            checker.expect(overlay, (kind, name) in objects, f"volume {volume['name']}: {kind}/{name} is rendered",
                           f"volume {volume['name']} refers to {kind}/{name}, which the overlay does not render")

    # The configuration.
    config_paths = flag_values(args, "--config.file")
    if not checker.expect(overlay, bool(config_paths), "--config.file is set", "no --config.file in the args"):
        return
    source = mounted_file(pod_spec, container, config_paths[-1], objects)
    if not checker.expect(overlay, source is not None and source[0] == "configMap" and ("ConfigMap", source[1]) in objects,
                          f"--config.file {config_paths[-1]} is key {source[2] if source else '?'} of the rendered "
                          f"ConfigMap/{source[1] if source else '?'} the pods mount",
                          f"--config.file {config_paths[-1]} is not a key of a rendered ConfigMap mounted in the pod"):
        return
    configmap = objects[("ConfigMap", source[1])]
    checker.expect(overlay, re.search(r"-[a-z0-9]{10}$", source[1]) is not None,
                   f"ConfigMap/{source[1]} has a generated, hashed name (a change rolls the pods)",
                   f"ConfigMap/{source[1]} has no content hash in its name: a changed configuration would not "
                   "roll the pods (use configMapGenerator)")
    text = configmap.get("data", {}).get(source[2])
    if not checker.expect(overlay, text is not None, f"ConfigMap/{source[1]} has key {source[2]}",
                          f"ConfigMap/{source[1]} has no key {source[2]}"):
        return
    webhook_path = "/webhooks/meter-session-status"
    config = yaml.safe_load(text) or {}
    if isinstance(config.get("webhook"), dict) and config["webhook"].get("path"):
        webhook_path = config["webhook"]["path"]
    if config.get("webhook") is not None:
        ingress_paths = {p["path"] for i in by_kind.get("Ingress", []) for r in i["spec"].get("rules", [])
                         for p in r.get("http", {}).get("paths", [])}
        checker.expect(overlay, ingress_paths == {webhook_path},
                       f"the Ingress routes only the callout path {webhook_path}",
                       f"the Ingress routes {sorted(ingress_paths)}, the config's webhook.path is {webhook_path}")
    with tempfile.TemporaryDirectory(prefix="zme-kube-") as directory:
        for i, path in enumerate(sorted(set(re.findall(r"_file:\s*(\S+)", text)))):
            origin = mounted_file(pod_spec, container, path, objects)
            checker.expect(overlay, origin is not None and origin[0] == "secret" and ("Secret", origin[1]) in objects,
                           f"config file {path} is key {origin[2] if origin else '?'} of Secret/{origin[1] if origin else '?'}",
                           f"config file {path} is not a key of a rendered Secret mounted in the pod")
            local = os.path.join(directory, f"secret-{i}")
            with open(local, "w", encoding="utf-8") as f:
                f.write("value")
            os.chmod(local, 0o600)
            text = text.replace(path, local)
        config_file = os.path.join(directory, "config.yml")
        with open(config_file, "w", encoding="utf-8") as f:
            f.write(text)
        check = subprocess.run([checker.binary, "--config.file", config_file, "--config.check"],
                               capture_output=True, text=True)
        output = (check.stdout + check.stderr).strip().replace(config_file, "config.yml")
        checker.expect(overlay, check.returncode == 0, f"ConfigMap/{source[1]} passes --config.check",
                       f"ConfigMap/{source[1]} fails --config.check: {output}")

    # The dashboard, generated from grafana/dashboards/.
    dashboards = [c for c in by_kind.get("ConfigMap", []) if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    for path in sorted(glob.glob(os.path.join(ROOT, "grafana", "dashboards", "*.json"))):
        with open(path, encoding="utf-8") as f:
            expected = f.read()
        name = os.path.basename(path)
        checker.expect(overlay, any(c.get("data", {}).get(name) == expected for c in dashboards),
                       f"a grafana_dashboard ConfigMap holds grafana/dashboards/{name}",
                       f"no ConfigMap labelled grafana_dashboard: \"1\" holds grafana/dashboards/{name} as it is")

    budgets = [b for b in by_kind.get("PodDisruptionBudget", []) if matches(b["spec"].get("selector"), pod_labels)]
    checker.expect(overlay, len(budgets) == 1, "a PodDisruptionBudget covers the pods",
                   f"{len(budgets)} PodDisruptionBudgets cover the pods")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="the zuora-mediation-exporter binary to check against")
    parser.add_argument("overlays", nargs="*", help="overlay directories (default: deploy/kubernetes/overlays/*)")
    parser.add_argument("--quiet", action="store_true", help="print only the failures and the summary")
    parser.add_argument("--kubectl", default="kubectl", help="kubectl with kustomize (default: %(default)s)")
    args = parser.parse_args()

    try:
        help_run = subprocess.run([args.binary, "--help"], capture_output=True, text=True)
    except OSError as error:
        print(f"cannot run {args.binary}: {error}", file=sys.stderr)
        return 2
    help_text = help_run.stdout + help_run.stderr
    if "--config.file" not in help_text:
        print(f"{args.binary} --help does not look like the exporter's help:\n{help_text}", file=sys.stderr)
        return 2
    try:
        subprocess.run([args.kubectl, "version", "--client"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"cannot run {args.kubectl}: {error}", file=sys.stderr)
        return 2

    overlays = args.overlays or sorted(
        os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "overlays", "*", "kustomization.yaml")))
    if not overlays:
        print("no overlays found", file=sys.stderr)
        return 2
    checker = Checker(args.binary, help_text, quiet=args.quiet)
    for overlay in overlays:
        check_overlay(checker, args.kubectl, os.path.abspath(overlay))
    if checker.failures:
        print(f"\n{checker.failures} check(s) FAILED")
        if checker.missing_flags:
            print(f"Flags the overlays pass that {args.binary} does not have: {', '.join(sorted(checker.missing_flags))}"
                  + (" (the peer-forwarding flags: expected until that work is merged)"
                     if checker.missing_flags <= PEER_FLAGS else ""))
        return 1
    print(f"\nAll checks passed ({len(overlays)} overlays).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
