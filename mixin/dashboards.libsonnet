// The dashboard is kept as JSON (mixin/dashboards/zuora-mediation.json, edited in Grafana and exported);
// the mixin sets its identity, refresh, tags and default data source from _config.dashboard.
{
  local d = $._config.dashboard,
  local source = import 'dashboards/zuora-mediation.json',

  local setDatasource(variable) =
    if variable.type == 'datasource' && d.datasource != null then
      variable { current: { selected: true, text: d.datasource, value: d.datasource } }
    else variable,

  grafanaDashboards+:: {
    'zuora-mediation.json': source {
      uid: d.uid,
      title: d.title,
      refresh: d.refresh,
      tags: d.tags,
      timezone: d.timezone,
      templating+: { list: [setDatasource(v) for v in super.list] },
    },
  },
}
