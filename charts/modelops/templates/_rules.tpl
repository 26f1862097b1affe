{{/*
The recording and alerting rules (docs/monitoring.md), as Prometheus rule groups: shipped
as a rules file in a ConfigMap for a plain Prometheus, and as a PrometheusRule when the
Prometheus Operator is there. Thresholds and `for` durations come from
monitoring.rules; the rate windows are fixed (5m), as the recorded names say.
*/}}
{{- /* An error ratio is 0, not absent, for a version that answered no error. */ -}}
{{- define "modelops.ruleGroups" -}}
{{- $r := .Values.monitoring.rules -}}
{{- $predict := `route=~"v1_predict|v2_infer"` -}}
- name: modelops.recording
  rules:
  - record: namespace_model_version:modelops_requests:rate5m
    expr: sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} }[5m]))
  - record: namespace_model_version:modelops_request_errors:ratio_rate5m
    expr: |
      (sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} ,code=~"5.."}[5m]))
        or sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} }[5m])) * 0)
      / sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} }[5m]))
  - record: namespace_model_version:modelops_request_client_errors:ratio_rate5m
    expr: |
      (sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} ,code=~"4.."}[5m]))
        or sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} }[5m])) * 0)
      / sum by (namespace, model, version) (rate(modelops_requests_total{ {{- $predict -}} }[5m]))
  - record: namespace_model_version:modelops_request_seconds:p50_rate5m
    expr: histogram_quantile(0.5, sum by (namespace, model, version, le) (rate(modelops_request_seconds_bucket{ {{- $predict -}} }[5m])))
  - record: namespace_model_version:modelops_request_seconds:p99_rate5m
    expr: histogram_quantile(0.99, sum by (namespace, model, version, le) (rate(modelops_request_seconds_bucket{ {{- $predict -}} }[5m])))
- name: modelops.alerts
  rules:
  - alert: ModelopsErrorRatioHigh
    expr: namespace_model_version:modelops_request_errors:ratio_rate5m > {{ $r.errorRatio }}
    for: {{ $r.for.errorRatio }}
    labels: {severity: critical}
    annotations:
      summary: {{ `'{{ $labels.namespace }}/{{ $labels.model }} version {{ $labels.version }}: {{ $value | humanizePercentage }} of predictions answered 5xx'` }}
      description: More than {{ mulf $r.errorRatio 100 }}% of the version's predict requests failed on the server side over 5 minutes; its logs say why.
  - alert: ModelopsClientErrorRatioHigh
    expr: namespace_model_version:modelops_request_client_errors:ratio_rate5m > {{ $r.clientErrorRatio }}
    for: {{ $r.for.clientErrorRatio }}
    labels: {severity: warning}
    annotations:
      summary: {{ `'{{ $labels.namespace }}/{{ $labels.model }} version {{ $labels.version }}: {{ $value | humanizePercentage }} of predictions refused (4xx)'` }}
      description: Callers send requests the version refuses (bad input, auth); often a client that does not match a new version's features.
  - alert: ModelopsLatencyP99High
    expr: namespace_model_version:modelops_request_seconds:p99_rate5m > {{ $r.latencyP99Seconds }}
    for: {{ $r.for.latency }}
    labels: {severity: warning}
    annotations:
      summary: {{ `'{{ $labels.namespace }}/{{ $labels.model }} version {{ $labels.version }}: p99 latency {{ $value | humanizeDuration }}'` }}
      description: The version's p99 predict latency is above the {{ $r.latencyP99Seconds }}s objective.
  - alert: ModelopsVersionNotReady
    expr: modelops_modelversion_ready == 0
    for: {{ $r.for.versionNotReady }}
    labels: {severity: warning}
    annotations:
      summary: {{ `'ModelVersion {{ $labels.namespace }}/{{ $labels.version }} of {{ $labels.model }} is not Ready: {{ $labels.reason }}'` }}
      description: {{ `kubectl -n {{ $labels.namespace }} describe modelversion {{ $labels.version }} says why.` | quote }}
  - alert: ModelopsTrainingFailed
    expr: modelops_trainingjob_failed == 1
    for: {{ $r.for.trainingFailed }}
    labels: {severity: warning}
    annotations:
      summary: {{ `'TrainingJob {{ $labels.namespace }}/{{ $labels.trainingjob }} failed: {{ $labels.reason }}'` }}
      description: {{ `kubectl -n {{ $labels.namespace }} get trainingjob {{ $labels.trainingjob }} -o yaml shows the message; the run's logs are in kubectl logs.` | quote }}
{{- end -}}
