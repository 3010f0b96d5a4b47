// zuora-mediation-exporter monitoring mixin: prometheusAlerts and grafanaDashboards, configured by _config.
(import 'config.libsonnet') +
(import 'alerts.libsonnet') +
(import 'dashboards.libsonnet')
