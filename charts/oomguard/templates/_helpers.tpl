{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "oomguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed with the chart name unless it already contains it. */}}
{{- define "oomguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "oomguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "oomguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oomguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "oomguard.labels" -}}
helm.sh/chart: {{ include "oomguard.chart" . }}
{{ include "oomguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: admission-webhook
app.kubernetes.io/part-of: oomguard
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "oomguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "oomguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "oomguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the server talks to the Kubernetes API (any look-up enabled), else "". */}}
{{- define "oomguard.lookupsEnabled" -}}
{{- if or .Values.lookups.namespaceLabels .Values.lookups.configMaps .Values.lookups.limitRanges }}true{{ end }}
{{- end }}

{{/* The Secret holding tls.crt / tls.key (and ca.crt unless brought by the user). */}}
{{- define "oomguard.tlsSecretName" -}}
{{- if eq .Values.tls.source "existingSecret" }}
{{- .Values.tls.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "oomguard.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Service's in-cluster DNS names: the serving certificate's SANs. */}}
{{- define "oomguard.dnsNames" -}}
{{- $svc := include "oomguard.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* The oomguard config file, from .Values.config plus the look-up switches. */}}
{{- define "oomguard.configFile" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $lookups := dict "namespace_labels" .Values.lookups.namespaceLabels "configmaps" .Values.lookups.configMaps "limit_ranges" .Values.lookups.limitRanges "budget_ms" (int .Values.lookups.budgetMs) "cache_seconds" (int .Values.lookups.cacheSeconds) }}
{{- $_ := set $cfg "lookups" $lookups }}
{{- $optOut := dict "key" .Values.webhooks.optOutLabel "honor_in_enforce" (include "oomguard.optOutInEnforce" . | eq "true") }}
{{- $_ := set $cfg "opt_out_label" $optOut }}
{{- toYaml $cfg }}
{{- end }}

{{/* namespaceSelector and objectSelector shared by both webhooks. */}}
{{- define "oomguard.webhookSelectors" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range (append .Values.webhooks.excludeNamespaces .Release.Namespace | uniq) }}
        - {{ . | quote }}
        {{- end }}
    - key: {{ .Values.webhooks.optOutLabel | quote }}
      operator: NotIn
      values: ["true"]
{{- /* Objects carrying the label are left out by the API server only when the label counts
in every mode; by default the server itself honours it outside enforce (any author can set
an object label, so it must not switch enforcement off). */}}
{{- if eq (include "oomguard.optOutInEnforce" .) "true" }}
objectSelector:
  matchExpressions:
    - key: {{ .Values.webhooks.optOutLabel | quote }}
      operator: NotIn
      values: ["true"]
{{- end }}
{{- end }}

{{/* "true" when config.opt_out_label.honor_in_enforce is set. */}}
{{- define "oomguard.optOutInEnforce" -}}
{{- $optOut := .Values.config.opt_out_label | default dict }}
{{- if $optOut.honor_in_enforce }}true{{ else }}false{{ end }}
{{- end }}

{{/* Admission rules: Pods and every workload controller with a pod template. */}}
{{/* The webhooks' rules: one per workload kind (webhooks.workloadKinds, the registry's kinds)
and one per config.kinds entry, whose group, version and plural come from the entry as
oomguard reads it (rules/kinds.py spec_from_config: plural defaults to kind in lower case + s). */}}
{{- define "oomguard.webhookRules" -}}
rules:
{{- range .Values.webhooks.workloadKinds }}
  {{- include "oomguard.webhookRule" (dict "group" .group "versions" .versions "plural" .plural "namespaced" (ternary .namespaced true (hasKey . "namespaced"))) | nindent 2 }}
{{- end }}
{{- range .Values.config.kinds }}
{{- $parts := splitList "/" .apiVersion }}
  {{- include "oomguard.webhookRule" (dict "group" (first $parts) "versions" (list (last $parts)) "plural" (.plural | default (printf "%ss" (lower .kind))) "namespaced" (ternary .namespaced true (hasKey . "namespaced"))) | nindent 2 }}
{{- end }}
{{- end }}

{{- define "oomguard.webhookRule" -}}
- apiGroups: [{{ .group | quote }}]
  apiVersions: {{ toJson .versions }}
  operations: ["CREATE", "UPDATE"]
  resources: [{{ .plural | quote }}]
  scope: {{ ternary "Namespaced" "Cluster" .namespaced }}
{{- end }}
