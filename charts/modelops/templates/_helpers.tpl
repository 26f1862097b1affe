{{- define "modelops.name" -}}modelops-operator{{- end -}}

{{- define "modelops.labels" -}}
app.kubernetes.io/name: {{ include "modelops.name" . }}
modelops.dev/instance: {{ .Values.instance }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "modelops.activatorSelector" -}}
app.kubernetes.io/name: modelops-activator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelops.selector" -}}
app.kubernetes.io/name: {{ include "modelops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Rules on the namespaced resources the operator reconciles. */}}
{{- define "modelops.namespacedRules" -}}
- apiGroups: [modelops.dev]
  resources: [models, modelversions, trainingjobs]
  # patch: kopf's finalizer and progress annotations; delete: retention (keepLast);
  # create: the versions that training runs produce.
  verbs: [get, list, watch, patch, delete, create]
- apiGroups: [modelops.dev]
  resources: [models/status, modelversions/status, trainingjobs/status]
  verbs: [get, patch]
# Training runs: a Job each (written once), a CronJob for a schedule.
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch, create, patch]
# Children are written with server-side apply (patch); an apply that creates the object
# is also authorized as a create, so both verbs are needed.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# The serving path: the versions' pods as Kubernetes lists them (EndpointSlices) and the
# endpoints of the Services it routes (the pods', or the activator's).
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [endpoints]
  verbs: [get, list, watch, create, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}


{{/* The kopf peering object shared by the replicas of this install. */}}
{{- define "modelops.peering" -}}modelops-{{ .Values.instance }}{{- end -}}


{{/* Where a Prometheus that discovers pods by annotation scrapes (docs/monitoring.md). */}}
{{- define "modelops.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ . | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* Render the Prometheus Operator's objects? "always", "never", or "auto": when the
cluster serves monitoring.coreos.com/v1/<kind>. */}}
{{- define "modelops.prometheusOperator" -}}
{{- $mode := .root.Values.monitoring.prometheusOperator -}}
{{- if or (eq $mode "always") (and (eq $mode "auto") (.root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind))) -}}
true
{{- end -}}
{{- end -}}

{{/* The relabelings that name a target by its pod: namespace, pod, and for a predictor
its Model and ModelVersion (the pod's labels). The same as docs/monitoring.md's. */}}
{{- define "modelops.podRelabelings" -}}
- sourceLabels: [__meta_kubernetes_namespace]
  targetLabel: namespace
- sourceLabels: [__meta_kubernetes_pod_name]
  targetLabel: pod
- sourceLabels: [__meta_kubernetes_pod_label_modelops_dev_model]
  targetLabel: model
- sourceLabels: [__meta_kubernetes_pod_label_modelops_dev_version]
  targetLabel: version
{{- end -}}
