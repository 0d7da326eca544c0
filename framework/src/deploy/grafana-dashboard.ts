/**
 * A Grafana dashboard for one deployed bento: what the reference workflow's monitoring step asks of Prometheus and
 * Grafana, from the metrics `bento serve` exports on /metrics (observability/metrics.ts). Its series are selected
 * by the `namespace` and `pod` labels that Prometheus's Kubernetes discovery gives a scraped pod (the pods carry
 * prometheus.io scrape annotations; a ServiceMonitor gives the same labels), and by the Deployment's pod names.
 */
import type { BentoManifest } from '../bento/manifest.js';
import { IN_FLIGHT_METRIC, type KubeObject, objectMeta } from './bento-pod.js';
import type { DeployOptions } from './deploy-options.js';

export interface DashboardPanel {
  title: string;
  /** PromQL with Grafana's `$namespace` and `$__rate_interval`; `legend` names each series. */
  queries: Array<{ expr: string; legend: string }>;
  unit: string;
  /** Grafana's panel type: a time series, or a table of the latest values. */
  type: 'timeseries' | 'table';
}

/** The dashboard's panels, by what an operator asks of a model server. */
export function dashboardPanels(o: DeployOptions): DashboardPanel[] {
  // A Deployment's pods are named <name>-<replica set hash>-<suffix>.
  const sel = `namespace="$namespace", pod=~"${o.name}-[a-z0-9]+-[a-z0-9]+"`;
  const rate = (metric: string, extra = '') => `rate(${metric}{${sel}${extra}}[$__rate_interval])`;
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (le) (${rate('bento_http_request_duration_seconds_bucket', ', method="POST"')}))`;
  // A pod that never answered a 5xx has no such series: 0 then, not an empty panel.
  const ratio = (status: string) =>
    `(sum(${rate('bento_http_requests_total', `, status=~"${status}"`)}) or vector(0)) / sum(${rate('bento_http_requests_total')})`;
  return [
    {
      title: 'Requests per second, by route',
      queries: [{ expr: `sum by (route) (${rate('bento_http_requests_total')})`, legend: '{{route}}' }],
      unit: 'reqps',
      type: 'timeseries',
    },
    {
      title: 'Error ratio',
      queries: [
        { expr: ratio('5..'), legend: '5xx' },
        { expr: ratio('4..'), legend: '4xx' },
      ],
      unit: 'percentunit',
      type: 'timeseries',
    },
    {
      title: 'Latency of predictions (POST)',
      queries: [
        { expr: quantile(0.5), legend: 'p50' },
        { expr: quantile(0.99), legend: 'p99' },
      ],
      unit: 's',
      type: 'timeseries',
    },
    {
      title: 'Mean batch size',
      queries: [
        {
          expr: `sum by (runner, method) (${rate('bento_runner_batch_size_sum')}) / sum by (runner, method) (${rate('bento_runner_batch_size_count')})`,
          legend: '{{runner}}.{{method}}',
        },
      ],
      unit: 'none',
      type: 'timeseries',
    },
    {
      title: 'Items queued for a batch',
      queries: [
        { expr: `sum by (runner, method) (bento_runner_queue_items{${sel}})`, legend: '{{runner}}.{{method}}' },
      ],
      unit: 'none',
      type: 'timeseries',
    },
    {
      title: 'Requests in flight, by pod',
      queries: [{ expr: `sum by (pod) (${IN_FLIGHT_METRIC}{${sel}})`, legend: '{{pod}}' }],
      unit: 'none',
      type: 'timeseries',
    },
    {
      title: 'Model served: pods per version',
      queries: [
        { expr: `count by (runner, name, version) (bento_model_info{${sel}})`, legend: '{{name}} {{version}}' },
      ],
      unit: 'none',
      type: 'table',
    },
  ];
}

/** The dashboard as Grafana imports it (Dashboards > Import, or the sidecar's ConfigMap below). */
export function grafanaDashboard(manifest: BentoManifest, o: DeployOptions): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  const panels = dashboardPanels(o).map((p, i) => ({
    id: i + 1,
    type: p.type,
    title: p.title,
    datasource,
    // Two panels a row, the table below them at full width.
    gridPos: p.type === 'table' ? { x: 0, y: 8 * Math.ceil(i / 2), w: 24, h: 6 } : { x: 12 * (i % 2), y: 8 * Math.floor(i / 2), w: 12, h: 8 },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options: p.type === 'table' ? { showHeader: true } : { legend: { displayMode: 'list', placement: 'bottom' } },
    targets: p.queries.map((q, k) => ({
      refId: String.fromCharCode(65 + k),
      datasource,
      expr: q.expr,
      legendFormat: q.legend,
      ...(p.type === 'table' ? { instant: true, format: 'table' } : {}),
    })),
  }));
  return {
    title: `bento ${manifest.name}`,
    uid: `bento-${o.name}`.slice(0, 40),
    tags: ['bento-ts'],
    timezone: 'browser',
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' },
        {
          name: 'namespace',
          type: 'query',
          datasource,
          query: 'label_values(bento_http_requests_total, namespace)',
          refresh: 2,
          ...(o.namespace ? { current: { text: o.namespace, value: o.namespace } } : {}),
        },
      ],
    },
    panels,
  };
}

/** The dashboard in a ConfigMap that Grafana's dashboard sidecar (kube-prometheus-stack) loads by its label. */
export function dashboardConfigMap(manifest: BentoManifest, o: DeployOptions): KubeObject {
  const meta = objectMeta(manifest, o, `${o.name}-grafana-dashboard`);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...meta, labels: { ...(meta.labels as Record<string, string>), grafana_dashboard: '1' } },
    data: { [`${o.name}.json`]: JSON.stringify(grafanaDashboard(manifest, o), null, 2) },
  };
}
