// Everything an installation may want to change. Override in your own jsonnet:
//   (import 'zuora-mediation-mixin/mixin.libsonnet') + { _config+:: { jobSelector: 'job="zm"' } }
{
  _config+:: {
    // Selects the exporter's scrape job (up, process metrics, shard info, ExporterDown's absent()).
    jobSelector: 'job="zuora-mediation"',
    // Added to every exporter metric in the rules (e.g. 'cluster="prod"'); empty: none.
    metricSelector: '',

    // Meters whose failures need not page: series whose `sandboxLabel` matches `sandboxValues`
    // (a regex) get `sandboxSeverity` instead of the usual severity. Empty sandboxValues: off.
    // The label usually comes from a relabelling in the scrape config (e.g. environment="sandbox").
    sandboxLabel: 'environment',
    sandboxValues: '',
    sandboxSeverity: 'warning',

    severities: {
      meterRunFailed: 'critical',
      meterTestingFailed: 'warning',
      meterRunStuck: 'warning',
      meterUnknownStatus: 'info',
      pollsFailing: 'warning',
      statusStale: 'warning',
      pollIntervalStretched: 'warning',
      exporterDown: 'critical',
      exporterCrashLooping: 'warning',
      shardsMissing: 'critical',
      credentialsRejected: 'critical',
      zuoraUnavailable: 'warning',
      oauthTokenExpired: 'critical',
      rateLimited: 'warning',
      configReloadFailed: 'warning',
      webhookRejected: 'warning',
      webhookDropped: 'warning',
      webhookForwardingFailing: 'warning',
      meterRunErrorRatioHigh: 'warning',
      summaryFailing: 'info',
    },

    // A FAILED state survives a scrape gap (exporter restart) this long without resolving.
    failedStateGap: '15m',
    // A failure counted within this window notifies even if a re-run already left FAILED.
    failureWindow: '15m',

    // Seconds a meter may stay in a working state before it counts as stuck.
    stuckThresholds: {
      INITIALIZING: 1800,  // 30m
      RUNNING: 21600,  // 6h
      USAGE_PUSHING: 7200,  // 2h
      PUSH_COMPLETED: 3600,  // 1h
      TESTING: 7200,  // 2h
      PAUSED: 86400,  // 24h
    },

    pollsFailingFor: '10m',
    // Stale: no successful poll for staleFactor x the rest interval in force, and at least staleMinSeconds.
    staleFactor: 3,
    staleMinSeconds: 1800,
    // Without the interval gauges (older exporters) fall back to this.
    staleFallbackSeconds: 1800,
    // Stretched: the active interval in force exceeds intervalStretchFactor x the configured one.
    intervalStretchFactor: 2,
    intervalStretchedFor: '30m',

    exporterDownFor: '5m',
    crashLoopWindow: '1h',
    crashLoopRestarts: 3,
    // Highest total_shards the shard alert knows (PromQL cannot turn a label into a number).
    maxShards: 8,
    shardsMissingFor: '5m',

    apiErrorWindow: '10m',
    apiErrorFor: '15m',
    tokenExpiredFor: '10m',
    configReloadFailedFor: '10m',

    // Callouts rejected (unauthorized/invalid) per second, over webhookRejectedWindow, for webhookRejectedFor.
    webhookRejectedRate: 0.01,
    webhookRejectedWindow: '15m',
    webhookRejectedFor: '15m',
    webhookDroppedWindow: '15m',
    forwardingFailingFor: '15m',

    // Records (summary feature, `summary.enabled: true` in the exporter's configuration).
    // MeterRunErrorRatioHigh: error / (output + error) of a meter-version's last summarised session
    // above this ratio (0.10 = 10 %); sessions without records never fire.
    errorRatioThreshold: 0.10,
    // ...only while that summary is younger than this (seconds): the alert reports a finished session,
    // which no later poll undoes if the meter does not run again. A newer session's summary replaces
    // it earlier (the alert then follows the new session's ratio).
    errorRatioMaxAgeSeconds: 43200,  // 12h
    // SummaryFailing: a summary given up (after the exporter's summary.max_attempts) in this window.
    summaryFailingWindow: '1h',

    // %s is the alert name in lower case (GitHub's anchor for the runbook heading).
    runbookURLPattern: 'https://github.com/zuora-mediation-exporter/zuora-mediation-exporter/blob/main/docs/runbook.md#%s',

    dashboard: {
      uid: 'zuora-mediation',
      title: 'Zuora Mediation',
      refresh: '1m',
      tags: ['zuora', 'mediation', 'prometheus'],
      // Name of the data source selected by default (Grafana's `datasource` variable); null: Grafana's default.
      datasource: null,
      timezone: 'browser',
    },
  },
}
