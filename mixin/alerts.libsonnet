// Alert rules. Every threshold and severity comes from _config (config.libsonnet).
local meterKey = 'job, instance, meter_id, version';

{
  local c = $._config,

  // metric{matchers, metricSelector}
  local m(name, matchers='') =
    local parts = std.filter(function(p) p != '', [matchers, c.metricSelector]);
    if std.length(parts) == 0 then name else '%s{%s}' % [name, std.join(', ', parts)],
  local job(name, matchers='') =
    local parts = std.filter(function(p) p != '', [c.jobSelector, matchers]);
    '%s{%s}' % [name, std.join(', ', parts)],

  local runbook(alert) = c.runbookURLPattern % std.asciiLower(alert),

  // Adds the meter's name from zuora_meter_info where there is one; meters discovered from callouts
  // (no zuora_meter_info yet) keep their alert without a name.
  local withName(expr, range='') =
    // Over a scrape gap, the last zuora_meter_info seen; topk keeps one series per meter-version even
    // if the name changed within the gap (two names would make the join fail).
    local info =
      if range == '' then m('zuora_meter_info')
      else 'topk by (%s) (1, %s or on (%s) last_over_time(%s[%s]))' % [meterKey, m('zuora_meter_info'), meterKey, m('zuora_meter_info'), range];
    |||
      (
      %s
      )
      * on (%s) group_left (name) %s
      or on (%s)
      (
      %s
      )
    ||| % [std.rstripChars(indent(expr), ' \n'), meterKey, info, meterKey, std.rstripChars(indent(expr), ' \n')],

  local indent(s) = std.join('\n', ['  ' + l for l in std.split(std.rstripChars(s, ' \n'), '\n')]),

  local meterName = '{{ $labels.meter_id }} version {{ $labels.version }}{{ with $labels.name }} ({{ . }}){{ end }}',

  local alert(name, expr, severity, summary, description, forDuration=null) =
    {
      alert: name,
      expr: std.rstripChars(expr, ' \n') + '\n',
    }
    + (if forDuration != null then { 'for': forDuration } else {})
    + {
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description: description,
        runbook_url: runbook(name),
      },
    },

  // One rule, or two (usual severity / sandbox severity) when sandboxValues is set. `expr` is a
  // function of an extra matcher string.
  local sandboxSplit(name, exprFn, severity, summary, description, forDuration=null) =
    if c.sandboxValues == '' then
      [alert(name, exprFn(''), severity, summary, description, forDuration)]
    else [
      alert(name, exprFn('%s!~"%s"' % [c.sandboxLabel, c.sandboxValues]), severity, summary, description, forDuration),
      alert(name, exprFn('%s=~"%s"' % [c.sandboxLabel, c.sandboxValues]), c.sandboxSeverity, summary, description, forDuration),
    ],

  local join(a, b) = std.join(', ', std.filter(function(p) p != '', [a, b])),

  local stuckTerm(state) =
    |||
      (
        (time() - %s)
        * on (%s) group_left (state)
          (%s == 1)
      ) > %d
    ||| % [m('zuora_meter_run_status_last_change_timestamp_seconds'), meterKey, m('zuora_meter_run_state', 'state="%s"' % state), c.stuckThresholds[state]],

  local stuckStates = std.objectFields(c.stuckThresholds),

  // Expected shard count per job: the largest total_shards label seen in the last hour.
  local expectedShards =
    std.join('\n  or\n', [
      '  max by (job) (last_over_time(%s[1h])) * %d' % [job('zuora_exporter_shard_info', 'total_shards="%d"' % n), n]
      for n in std.reverse(std.range(1, c.maxShards))
    ]),

  // A count of the alerting meter-version's last summarised session, read with the template's `query`.
  local lastSessionCount(outcome) =
    '{{ with printf `sum(zuora_meter_last_session_records{job=%q,instance=%q,meter_id=%q,version=%q,outcome="'
    + outcome
    + '"})` $labels.job $labels.instance $labels.meter_id $labels.version | query }}{{ . | first | value | printf "%.0f" }}{{ end }}',

  local thresholdPercent = std.format('%g%%', [c.errorRatioThreshold * 100]),
  local maxAge = std.format('%gh', [c.errorRatioMaxAgeSeconds / 3600]),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'zuora-mediation-meters',
        rules:
          sandboxSplit(
            'ZuoraMediationMeterRunFailed',
            function(extra) withName(|||
              max by (%(key)s) (
                last_over_time(%(state)s[%(gap)s]) == 1
              )
              or
              max by (%(key)s) (
                increase(%(failures)s[%(window)s]) > 0
                unless on (%(key)s)
                  max_over_time(%(testing)s[%(window)s]) == 1
              )
            ||| % {
              key: meterKey,
              state: m('zuora_meter_run_state', join('state="FAILED"', extra)),
              gap: c.failedStateGap,
              failures: m('zuora_meter_run_failures_total', extra),
              window: c.failureWindow,
              testing: m('zuora_meter_run_state', join('state="TESTING_FAILED"', extra)),
            }, c.failedStateGap),
            c.severities.meterRunFailed,
            'A Zuora Mediation meter run failed.',
            'Meter %s is FAILED, or failed in the last %s (seen by {{ $labels.instance }}).' % [meterName, c.failureWindow],
          )
          + [
            alert(
              'ZuoraMediationMeterTestingFailed',
              withName(|||
                max by (%s) (
                  last_over_time(%s[%s]) == 1
                )
              ||| % [meterKey, m('zuora_meter_run_state', 'state="TESTING_FAILED"'), c.failedStateGap], c.failedStateGap),
              c.severities.meterTestingFailed,
              'A Zuora Mediation meter test run failed.',
              'Meter %s is TESTING_FAILED (seen by {{ $labels.instance }}); a test run bills nobody.' % meterName,
            ),
            alert(
              'ZuoraMediationMeterRunErrorRatioHigh',
              withName(|||
                (
                  sum without (outcome) (%(errors)s)
                  /
                  (sum without (outcome) (%(all)s) > 0)
                ) > %(threshold)s
                and on (%(key)s)
                  (time() - %(taken)s < %(maxAge)d)
              ||| % {
                key: meterKey,
                errors: m('zuora_meter_last_session_records', 'outcome="error"'),
                all: m('zuora_meter_last_session_records'),
                threshold: std.format('%g', [c.errorRatioThreshold]),
                taken: m('zuora_meter_last_session_records_timestamp_seconds'),
                maxAge: c.errorRatioMaxAgeSeconds,
              }),
              c.severities.meterRunErrorRatioHigh,
              'Meter {{ $labels.meter_id }} version {{ $labels.version }}: {{ $value | humanizePercentage }} of the records of its last session failed.',
              'The last summarised session of meter ' + meterName + ' had '
              + lastSessionCount('error') + ' error record(s) and ' + lastSessionCount('output') + ' output record(s): '
              + '{{ $value | humanizePercentage }} failed, above the threshold of ' + thresholdPercent + ' (seen by {{ $labels.instance }}). '
              + 'The alert stops when a newer session of the meter is summarised below the threshold, or ' + maxAge
              + ' after the summary was taken. The dashboard row "Records" shows the failing operators and error codes.',
            ),
            alert(
              'ZuoraMediationMeterRunStuck',
              withName(
                std.join('or\n', [stuckTerm(s) for s in stuckStates])
              ),
              c.severities.meterRunStuck,
              'A Zuora Mediation meter has been in a working state for too long.',
              'Meter %s has been {{ $labels.state }} for {{ $value | humanizeDuration }} (seen by {{ $labels.instance }}).' % meterName,
            ),
            alert(
              'ZuoraMediationMeterUnknownStatus',
              |||
                %s
                and on (%s)
                  (%s == 1)
              ||| % [m('zuora_meter_run_status'), meterKey, m('zuora_meter_run_state', 'state="UNKNOWN"')],
              c.severities.meterUnknownStatus,
              'Zuora returns a run-status code the exporter does not know.',
              'Meter {{ $labels.meter_id }} version {{ $labels.version }} reports run-status code {{ $value }}, which is not one of the documented codes 1-13 (seen by {{ $labels.instance }}).',
              '15m',
            ),
            alert(
              'ZuoraMediationPollsFailing',
              '%s == 0\n' % m('zuora_meter_poll_success'),
              c.severities.pollsFailing,
              "The exporter cannot read a meter's run status from Zuora.",
              'Polls of meter {{ $labels.meter_id }} version {{ $labels.version }} by {{ $labels.instance }} have been failing for at least %s; see zuora_meter_poll_errors_total for the reason.' % c.pollsFailingFor,
              c.pollsFailingFor,
            ),
            alert(
              'ZuoraMediationStatusStale',
              |||
                (time() - %(last)s)
                > on (job, instance) group_left ()
                  (
                      clamp_min(%(k)s * max by (job, instance) (%(rest)s), %(min)d)
                    or
                      0 * max by (job, instance) (%(last)s) + %(fallback)d
                  )
              ||| % {
                last: m('zuora_meter_last_poll_success_timestamp_seconds'),
                k: c.staleFactor,
                rest: m('zuora_exporter_effective_poll_interval_seconds', 'state="rest"'),
                min: c.staleMinSeconds,
                fallback: c.staleFallbackSeconds,
              },
              c.severities.statusStale,
              "A meter's run status has not been refreshed recently.",
              'The last successful poll of meter {{ $labels.meter_id }} version {{ $labels.version }} by {{ $labels.instance }} was {{ $value | humanizeDuration }} ago, more than %s times the rest poll interval in force.' % c.staleFactor,
            ),
          ],
      },
      {
        name: 'zuora-mediation-exporter',
        rules: [
          alert(
            'ZuoraMediationExporterDown',
            |||
              %s == 0
              or
              absent(%s)
            ||| % [job('up'), job('up')],
            c.severities.exporterDown,
            'The Zuora Mediation exporter cannot be scraped.',
            '{{ with $labels.instance }}Target {{ . }} of job {{ $labels.job }} is down{{ else }}Prometheus has no target for job {{ $labels.job }}{{ end }}; meter run statuses are not being monitored.',
            c.exporterDownFor,
          ),
          alert(
            'ZuoraMediationExporterCrashLooping',
            'changes(%s[%s]) > %d\n' % [job('process_start_time_seconds'), c.crashLoopWindow, c.crashLoopRestarts],
            c.severities.exporterCrashLooping,
            'The Zuora Mediation exporter keeps restarting.',
            '{{ $labels.instance }} restarted {{ $value }} times in the last %s.' % c.crashLoopWindow,
          ),
          alert(
            'ZuoraMediationShardsMissing',
            |||
              (
                  count by (job) (count by (job, shard) (%(info)s))
                or
                  0 * max by (job) (last_over_time(%(info)s[1h]))
              )
              < on (job)
              (
              %(expected)s
              )
            ||| % { info: job('zuora_exporter_shard_info'), expected: expectedShards },
            c.severities.shardsMissing,
            'Shards of a sharded Zuora Mediation exporter are missing.',
            'Only {{ $value }} distinct shard(s) of job {{ $labels.job }} are being scraped; the meters of the missing shards are not monitored.',
            c.shardsMissingFor,
          ),
          alert(
            'ZuoraMediationCredentialsRejected',
            |||
              sum by (job, instance) (increase(%s[%s])) > 0
              or
              sum by (job, instance) (increase(%s[%s])) > 0
            ||| % [
              m('zuora_meter_poll_errors_total', 'reason="auth"'), c.apiErrorWindow,
              m('zuora_api_requests_total', 'endpoint="token", code=~"400|401|403"'), c.apiErrorWindow,
            ],
            c.severities.credentialsRejected,
            "Zuora rejects the exporter's credentials.",
            "{{ $labels.instance }} keeps getting its credentials or tokens rejected by Zuora ({{ printf \"%%.0f\" $value }} in the last %s): its OAuth client credentials are wrong, revoked, or lack permission." % c.apiErrorWindow,
            c.apiErrorFor,
          ),
          alert(
            'ZuoraMediationZuoraUnavailable',
            'sum by (job, instance) (increase(%s[%s])) > 0\n' % [m('zuora_meter_poll_errors_total', 'reason=~"server_error|timeout|network"'), c.apiErrorWindow],
            c.severities.zuoraUnavailable,
            'Zuora is unavailable to the exporter.',
            '{{ $labels.instance }} keeps failing to reach Zuora or getting server errors ({{ printf "%%.0f" $value }} failed polls in the last %s); run statuses are not refreshed.' % c.apiErrorWindow,
            c.apiErrorFor,
          ),
          alert(
            'ZuoraMediationOAuthTokenExpired',
            |||
              (%s < time())
              and on (job, instance)
                (sum by (job, instance) (increase(%s[%s])) > 0)
            ||| % [m('zuora_oauth_token_expiry_timestamp_seconds'), m('zuora_meter_poll_errors_total'), c.apiErrorWindow],
            c.severities.oauthTokenExpired,
            "The exporter's OAuth token has expired and polls fail.",
            '{{ $labels.instance }} holds an expired OAuth token and its polls are failing: it cannot get a new token.',
            c.tokenExpiredFor,
          ),
          alert(
            'ZuoraMediationRateLimited',
            |||
              sum by (job, instance) (increase(%s[%s])) > 0
              or
              sum by (job, instance) (increase(%s[%s])) > 0
            ||| % [
              m('zuora_meter_poll_errors_total', 'reason="rate_limited"'), c.apiErrorWindow,
              m('zuora_api_requests_total', 'code="429"'), c.apiErrorWindow,
            ],
            c.severities.rateLimited,
            'Zuora is rate-limiting the exporter.',
            '{{ $labels.instance }} keeps getting rate-limited by Zuora ({{ printf "%%.0f" $value }} in the last %s); run statuses are refreshed less often than configured.' % c.apiErrorWindow,
            c.apiErrorFor,
          ),
          alert(
            'ZuoraMediationPollIntervalStretched',
            |||
              max by (job, instance) (%s)
              / on (job, instance)
                max by (job, instance) (%s)
              > %s
            ||| % [
              m('zuora_exporter_effective_poll_interval_seconds', 'state="active"'),
              m('zuora_exporter_configured_poll_interval_seconds', 'state="active"'),
              c.intervalStretchFactor,
            ],
            c.severities.pollIntervalStretched,
            'The request budget keeps polls of working meters far apart.',
            '{{ $labels.instance }} polls working meters {{ printf "%.1f" $value }} times less often than configured, to stay within zuora.request_budget.',
            c.intervalStretchedFor,
          ),
          alert(
            'ZuoraMediationConfigReloadFailed',
            '%s == 0\n' % m('zuora_exporter_config_last_reload_successful'),
            c.severities.configReloadFailed,
            'The exporter failed to reload its configuration.',
            'The last configuration reload of {{ $labels.instance }} failed; it keeps running with the previous configuration.',
            c.configReloadFailedFor,
          ),
          alert(
            'ZuoraMediationWebhookRejected',
            'sum by (job, instance, result) (rate(%s[%s])) > %s\n' % [m('zuora_webhook_requests_total', 'result=~"unauthorized|invalid"'), c.webhookRejectedWindow, c.webhookRejectedRate],
            c.severities.webhookRejected,
            'The exporter keeps rejecting meter session callouts.',
            '{{ $labels.instance }} answers {{ printf "%.2f" $value }} callouts per second as {{ $labels.result }}.',
            c.webhookRejectedFor,
          ),
          alert(
            'ZuoraMediationWebhookDropped',
            'sum by (job, instance) (increase(%s[%s])) > 0\n' % [m('zuora_webhook_requests_total', 'result="dropped"'), c.webhookDroppedWindow],
            c.severities.webhookDropped,
            'The exporter drops callouts past its dynamic-meter limit.',
            '{{ $labels.instance }} dropped {{ printf "%%.0f" $value }} callout(s) in the last %s: they came from meters beyond the dynamic-meter limit, which are not monitored.' % c.webhookDroppedWindow,
          ),
          alert(
            'ZuoraMediationSummaryFailing',
            'sum by (job, instance, reason) (increase(%s[%s])) > 0\n' % [m('zuora_summaries_given_up_total'), c.summaryFailingWindow],
            c.severities.summaryFailing,
            'The exporter gives up fetching record summaries of ended runs.',
            '{{ $labels.instance }} gave up the summary of {{ printf "%%.0f" $value }} ended session(s) in the last %s (last attempt failed as {{ $labels.reason }}): their record counts are missing and MeterRunErrorRatioHigh cannot judge them. Run statuses are not affected.' % c.summaryFailingWindow,
          ),
          alert(
            'ZuoraMediationWebhookForwardingFailing',
            'sum by (job, instance, result) (increase(%s[%s])) > 0\n' % [m('zuora_webhook_forwarded_total', 'result=~"unreachable|refused"'), c.apiErrorWindow],
            c.severities.webhookForwardingFailing,
            'The exporter cannot forward callouts to the replica that owns them.',
            '{{ $labels.instance }} keeps failing to forward callouts ({{ $labels.result }}, {{ printf "%%.0f" $value }} in the last %s); they reach the owner only by polling or Zuora retries.' % c.apiErrorWindow,
            c.forwardingFailingFor,
          ),
        ],
      },
    ],
  },
}
