#!/usr/bin/env python3
"""Run every query of a Grafana dashboard against a Prometheus and report which fail or are empty.

    scripts/dashboard-queries.py --prometheus http://127.0.0.1:9090 grafana/dashboards/zuora-mediation.json

Each panel target's `expr` has its template variables replaced ($job, $instance, $meter_id,
$version -> ".*" unless given with --var; $__rate_interval -> 1m, $__interval -> 15s,
$__range -> 5m) and is sent to /api/v1/query (an instant query at the current time).

Exit status: 0 when every query is valid and returns data; 1 when any query is invalid or
returns nothing (each is listed), unless its panel title matches an --allow-empty pattern;
2 on usage or connection errors. Python 3 standard library only.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

DEFAULTS = {
    "job": ".*",
    "instance": ".*",
    "meter_id": ".*",
    "version": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
}

# $name, ${name}, ${name:format} and the deprecated [[name]].
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")


def targets(panels, parents=()):
    """Yields (panel title, refId, expr) for every target, including panels inside rows."""
    for panel in panels or []:
        title = " / ".join(parents + (panel.get("title") or f"panel {panel.get('id')}",))
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if expr and not target.get("hide"):
                yield title, target.get("refId", "?"), expr
        if panel.get("panels"):
            yield from targets(panel["panels"], parents + (panel.get("title") or "row",))


def substitute(expr, values):
    unknown = set()

    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name in values:
            return values[name]
        unknown.add(name)
        return match.group(0)

    return VARIABLE.sub(replace, expr), unknown


def query(base, expr, timeout):
    """Returns (error or None, number of series/samples)."""
    url = base.rstrip("/") + "/api/v1/query"
    data = urllib.parse.urlencode({"query": expr}).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # 400/422: the query is invalid
        try:
            body = json.load(error)
        except ValueError:
            return f"HTTP {error.code}", 0
    if body.get("status") != "success":
        return f"{body.get('errorType', 'error')}: {body.get('error', body)}", 0
    result = body["data"]["result"]
    kind = body["data"]["resultType"]
    if kind in ("scalar", "string"):
        return None, 1
    return None, len(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dashboard", help="path to the dashboard JSON")
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="value for a template variable (regex for job/instance/meter_id/version); repeatable")
    parser.add_argument("--job", help="shorthand for --var job=VALUE")
    parser.add_argument("--allow-empty", action="append", default=[], metavar="REGEX",
                        help="panel titles (regex, searched) whose queries may return no data; repeatable")
    parser.add_argument("--timeout", type=float, default=10, help="per-query timeout in seconds (default 10)")
    args = parser.parse_args()

    values = dict(DEFAULTS)
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--var expects NAME=VALUE, got {item!r}")
        values[name] = value
    if args.job is not None:
        values["job"] = args.job
    allow_empty = [re.compile(p) for p in args.allow_empty]

    try:
        with open(args.dashboard, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as error:
        print(f"cannot read {args.dashboard}: {error}", file=sys.stderr)
        return 2
    dashboard = dashboard.get("dashboard", dashboard)  # also accept the API's {"dashboard": ...} wrapper

    invalid, empty, checked = [], [], 0
    for title, ref, raw in targets(dashboard.get("panels")):
        checked += 1
        label = f"{title} [{ref}]"
        expr, unknown = substitute(raw, values)
        if unknown:
            print(f"INVALID  {label}: unknown variable(s) {', '.join(sorted(unknown))}")
            invalid.append(label)
            continue
        try:
            error, count = query(args.prometheus, expr, args.timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"cannot query {args.prometheus}: {exc}", file=sys.stderr)
            return 2
        if error:
            print(f"INVALID  {label}: {error}\n         {expr}")
            invalid.append(label)
        elif count == 0:
            if any(p.search(title) for p in allow_empty):
                print(f"empty    {label} (allowed)")
            else:
                print(f"EMPTY    {label}\n         {expr}")
                empty.append(label)
        else:
            print(f"ok       {label}: {count} series")

    print(f"\n{checked} queries: {checked - len(invalid) - len(empty)} ok, {len(invalid)} invalid, {len(empty)} empty")
    if checked == 0:
        print("no panel queries found", file=sys.stderr)
        return 1
    if invalid or empty:
        for label in invalid:
            print(f"  invalid: {label}")
        for label in empty:
            print(f"  empty:   {label}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
