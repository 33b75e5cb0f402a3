// The JSON of nbops's REST API (/nbops/api/v1/), mirrored from src/nbops/server/.

export interface ApiErrorBody {
  error: string;
  hint?: string | null;
  type?: string;
  actor?: string;
  action?: string;
  violations?: string[];
}

export interface Info {
  workspace: string;
  user: string;
  root_dir: string;
}

export interface RunRow {
  run_id: string;
  name: string | null;
  kind: string;
  status: string;
  user_name: string;
  started_at: string;
  duration_ms: number | null;
  notebook: string | null;
  execution_count: number | null;
  pipeline_run_id: string | null;
  hidden_state: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
}

export interface RunPage {
  total: number;
  offset: number;
  limit: number;
  runs: RunRow[];
}

export interface ArtifactRow {
  name: string;
  kind: string;
  role: string;
  version: number | null;
  format?: string;
  size_bytes?: number | null;
  fingerprint?: string | null;
}

export interface MetricPoint {
  key: string;
  step: number | null;
  value: number;
  ts: string;
}

export interface LineageEdge {
  src_kind: string;
  src_ref: string;
  dst_kind: string;
  dst_ref: string;
  relation: string;
}

export interface RunDetails {
  run: RunRow & { ended_at: string | null; error: string | null; cell_id: string | null };
  code: string | null;
  tags: Record<string, string>;
  hidden_state: string | null;
  params: Record<string, unknown>;
  metrics: MetricPoint[];
  inputs: ArtifactRow[];
  outputs: ArtifactRow[];
  lineage: LineageEdge[];
  environment: Record<string, unknown>;
}

export interface ModelRow {
  name: string;
  description: string | null;
  versions: number;
  latest: number | null;
  aliases: string | null;
  created_by: string;
  created_at: string;
}

export interface ModelVersionRow {
  name: string;
  version: number;
  status: string;
  aliases: string[];
  run_id: string | null;
  artifact_name: string | null;
  created_by: string;
  created_at: string;
}

export interface AliasMove {
  alias: string;
  version: number | null;
  previous_version: number | null;
  kind: string;
  reason: string | null;
  actor: string;
  ts: string;
}

export interface PromotionRequest {
  request_id: string;
  name: string;
  version: number;
  alias: string;
  status: string;
  requested_by: string;
  reason: string | null;
  ts: string;
  approvals: number;
  status_reason: string | null;
}

export interface ModelDetails {
  name: string;
  versions: ModelVersionRow[];
  aliases: Record<string, number>;
  history: AliasMove[];
  requests: PromotionRequest[];
  policies: Record<string, unknown>[];
}

export interface Schedule {
  name: string;
  notebook: string;
  cron: string | null;
  tz: string;
  paused: boolean;
  next_run: string | null;
  parameters: Record<string, unknown>;
}

export interface PipelineRun {
  pipeline_run_id: string;
  notebook: string;
  status: string;
  started_at: string;
  duration_ms: number | null;
  schedule_name: string | null;
  output_key: string | null;
  error_name: string | null;
}

export interface Pipelines {
  schedules: Schedule[];
  runs: PipelineRun[];
}

export interface AuditEntry {
  seq: number;
  ts: string;
  actor: string;
  action: string;
  target: string;
}

export interface ActionResult {
  ok: boolean;
  ref?: string;
  aliases?: string[];
  request_id?: string;
  status?: string;
  trigger_id?: string;
}

export interface AlertState {
  event_id: string;
  rule_name: string;
  fire_id: string;
  state: 'firing' | 'acknowledged' | 'resolved' | string;
  value: number | null;
  threshold: number | null;
  n_samples: number | null;
  severity: string | null;
  message: string;
  actor: string;
  ts: string;
  model?: string | null;
  metric?: string | null;
  rule_deleted?: boolean;
}

export interface AlertRule {
  name: string;
  model: string;
  metric: string;
  aggregation: string;
  comparison: string;
  threshold: number;
  window_s: number;
  severity: string;
  feature: string | null;
  trigger_schedule: string | null;
  description: string | null;
}

export interface Alerts {
  firing: number;
  acknowledged: number;
  alerts: AlertState[];
  rules: AlertRule[];
}

export interface ExperimentRow {
  name: string;
  status: string;
  mode: string;
  unit: string;
  variants: Record<string, string>;
  weights: Record<string, number>;
  winner: string | null;
  started_at: string | null;
  changed_at: string;
  changed_by: string;
}

export interface ExperimentComparison {
  variant: string;
  method: string;
  n_control: number;
  n_treatment: number;
  control: number | null;
  treatment: number | null;
  lift: number | null;
  ci: [number | null, number | null];
  relative_lift: number | null;
  relative_ci: [number | null, number | null] | null;
  p_value: number | null;
  adjusted_p: number | null;
  p_always_valid: number | null;
  cs: [number | null, number | null];
  significant: boolean;
  p_better: number | null;
  expected_loss: number | null;
}

export interface ExperimentReport {
  decision: string;
  winner: string | null;
  reasons: string[];
  units: Record<string, number>;
  breaches: string[];
  health: Record<string, { requests: number; errors: number }>;
  shadow_agreement: number | null;
  srm: { p_value: number | null; mismatch: boolean } | null;
  comparisons: ExperimentComparison[];
  text: string;
}

export interface ExperimentDetails {
  experiment: ExperimentRow & {
    pinned: Record<string, string>;
    metric: { name: string; kind: string; higher_is_better?: boolean };
    reason: string | null;
  };
  report: ExperimentReport;
}

export type CardBlock = { text: string } | { table: { head: string[]; rows: unknown[][] } };

export interface ModelCard {
  title: string;
  sections: { heading: string; blocks: CardBlock[] }[];
  markdown: string;
}

export interface SideBySide {
  key: string;
  a: unknown;
  b: unknown;
  changed: boolean;
}

export interface RunDiff {
  a: string;
  b: string;
  code_changed: boolean;
  params: SideBySide[];
  metrics: SideBySide[];
  text: string;
}

export interface OutputNotebook {
  pipeline_run_id: string;
  notebook: Record<string, unknown>;
}
