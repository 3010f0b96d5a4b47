// The dashboard is kept as JSON (mixin/dashboards/zuora-mediation.json, edited in Grafana and exported);
// the mixin sets its identity, refresh, tags and default data source from _config.dashboard, and the
// red step of the error-ratio panel from _config.errorRatioThreshold (MeterRunErrorRatioHigh's).
{
  local d = $._config.dashboard,
  local source = import 'dashboards/zuora-mediation.json',

  local setDatasource(variable) =
    if variable.type == 'datasource' && d.datasource != null then
      variable { current: { selected: true, text: d.datasource, value: d.datasource } }
    else variable,

  local errorRatioPanel = 'Error ratio of the last session (top 20)',
  local setErrorRatioThreshold(panel) =
    if std.objectHas(panel, 'title') && panel.title == errorRatioPanel then
      panel {
        fieldConfig+: {
          defaults+: {
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: $._config.errorRatioThreshold }],
            },
          },
        },
      }
    else panel,

  grafanaDashboards+:: {
    'zuora-mediation.json': source {
      uid: d.uid,
      title: d.title,
      refresh: d.refresh,
      tags: d.tags,
      timezone: d.timezone,
      panels: [setErrorRatioThreshold(p) for p in super.panels],
      templating+: { list: [setDatasource(v) for v in super.list] },
    },
  },
}
