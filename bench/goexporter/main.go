// Command goexporter is the benchmark's comparator: a conventional exporter written with
// github.com/prometheus/client_golang. At start it reads a captured text exposition (the
// zuora-mediation-exporter's /metrics), registers one GaugeVec or CounterVec per gauge or counter family
// with the same label names, sets the same values, and serves /metrics with promhttp.Handler(), which
// renders (and, when asked, gzips) the whole exposition on every scrape. So it serves the same per-meter
// series, rendered the usual way.
//
// Skipped: histogram and summary families (a handful of lines: the API request-duration histogram) and
// the process_* families, which the default registry's process collector already serves under the same
// names (registering them again would collide). The default registry also adds the go_* collector, as
// every client_golang exporter has.
//
// Built offline with Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o .build-release/goexporter ./bench/goexporter
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func main() {
	input := flag.String("input", "", "text exposition file to serve")
	listen := flag.String("listen", "127.0.0.1:9900", "address to listen on")
	flag.Parse()
	if *input == "" {
		log.Fatal("goexporter: --input is required")
	}
	file, err := os.Open(*input)
	if err != nil {
		log.Fatal(err)
	}
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(file)
	file.Close()
	if err != nil {
		log.Fatalf("goexporter: parsing %s: %v", *input, err)
	}

	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	series, skipped := 0, []string{}
	for _, name := range names {
		family := families[name]
		if strings.HasPrefix(name, "process_") {
			skipped = append(skipped, name)
			continue
		}
		labelNames := labelNamesOf(family)
		switch family.GetType() {
		case dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
			vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help(family)}, labelNames)
			prometheus.MustRegister(vec)
			for _, m := range family.Metric {
				value := m.GetGauge().GetValue()
				if family.GetType() == dto.MetricType_UNTYPED {
					value = m.GetUntyped().GetValue()
				}
				vec.WithLabelValues(labelValues(m, labelNames)...).Set(value)
				series++
			}
		case dto.MetricType_COUNTER:
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help(family)}, labelNames)
			prometheus.MustRegister(vec)
			for _, m := range family.Metric {
				vec.WithLabelValues(labelValues(m, labelNames)...).Add(m.GetCounter().GetValue())
				series++
			}
		default:
			skipped = append(skipped, name)
		}
	}
	log.Printf("goexporter: %d families, %d series from %s; skipped %v; listening on %s",
		len(names)-len(skipped), series, *input, skipped, *listen)

	http.Handle("/metrics", promhttp.Handler())
	http.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	log.Fatal(http.ListenAndServe(*listen, nil))
}

func help(family *dto.MetricFamily) string {
	if h := family.GetHelp(); h != "" {
		return h
	}
	return family.GetName()
}

// labelNamesOf returns the union of the family's label names, sorted.
func labelNamesOf(family *dto.MetricFamily) []string {
	seen := map[string]bool{}
	for _, m := range family.Metric {
		for _, pair := range m.Label {
			seen[pair.GetName()] = true
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func labelValues(m *dto.Metric, names []string) []string {
	values := make([]string, len(names))
	for _, pair := range m.Label {
		i := sort.SearchStrings(names, pair.GetName())
		values[i] = pair.GetValue()
	}
	return values
}
