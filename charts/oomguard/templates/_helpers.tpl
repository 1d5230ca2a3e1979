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
{{- if or .Values.lookups.namespaceLabels .Values.lookups.configMaps .Values.lookups.limitRanges .Values.lookups.vpas }}true{{ end }}
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
{{- $lookups := dict "namespace_labels" .Values.lookups.namespaceLabels "configmaps" .Values.lookups.configMaps "limit_ranges" .Values.lookups.limitRanges "vpas" .Values.lookups.vpas "budget_ms" (int .Values.lookups.budgetMs) "cache_seconds" (int .Values.lookups.cacheSeconds) }}
{{- $_ := set $cfg "lookups" $lookups }}
{{- $optOut := dict "key" .Values.webhooks.optOutLabel "honor_in_enforce" (include "oomguard.optOutInEnforce" . | eq "true") }}
{{- $_ := set $cfg "opt_out_label" $optOut }}
{{- toYaml $cfg }}
{{- end }}

{{/* namespaceSelector and objectSelector shared by both webhooks. */}}
{{- define "oomguard.webhookSelectors" -}}
{{- $excluded := append .Values.webhooks.excludeNamespaces .Release.Namespace }}
{{- /* cert-manager renews oomguard's certificate: with a webhook failing closed, judging its
own Pods could leave nothing to renew an expired certificate with */}}
{{- if and (eq .Values.tls.source "certManager") (or (eq .Values.webhooks.validating.failurePolicy "Fail") (eq .Values.webhooks.mutating.failurePolicy "Fail")) }}
{{- $excluded = append $excluded .Values.tls.certManager.namespace }}
{{- end }}
namespaceSelector:
  matchExpressions:
    {{- with .Values.webhooks.includeNamespaces }}
    {{- /* a gradual rollout: only these namespaces (the exclusions below still apply) */}}
    - key: kubernetes.io/metadata.name
      operator: In
      values:
        {{- range (. | uniq) }}
        - {{ . | quote }}
        {{- end }}
    {{- end }}
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range ($excluded | uniq) }}
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

{{/* The identities kube-controller-manager creates Pods, ReplicaSets and Jobs with; the same list as
BUILTIN_CONTROLLERS in rules/admission_scope.py (tests/test_chart.py checks), plus
config.admission.trusted_controllers. */}}
{{- define "oomguard.trustedControllers" -}}
{{- $builtin := list "system:serviceaccount:kube-system:replicaset-controller" "system:serviceaccount:kube-system:statefulset-controller" "system:serviceaccount:kube-system:daemon-set-controller" "system:serviceaccount:kube-system:job-controller" "system:serviceaccount:kube-system:replication-controller" "system:serviceaccount:kube-system:deployment-controller" "system:serviceaccount:kube-system:cronjob-controller" "system:kube-controller-manager" }}
{{- $admission := .Values.config.admission | default dict }}
{{- concat $builtin ($admission.trusted_controllers | default list) | uniq | toJson }}
{{- end }}

{{/* matchConditions (Kubernetes >= 1.30, where they are GA): CEL the API server evaluates
before calling the webhook; all must be true for the call. Argument: dict "root" $ "mutating"
bool. Each guard uses has(), since an expression that fails applies the failurePolicy. */}}
{{- define "oomguard.matchConditions" -}}
{{- $root := .root }}
{{- if and $root.Values.webhooks.matchConditions.enabled (semverCompare ">=1.30-0" $root.Capabilities.KubeVersion.Version) }}
{{- $trusted := include "oomguard.trustedControllers" $root }}
matchConditions:
  - name: not-a-mirror-pod
    expression: {{ "!(request.kind.kind == 'Pod' && request.userInfo.username.startsWith('system:node:') && has(object.metadata.annotations) && 'kubernetes.io/config.mirror' in object.metadata.annotations)" | toJson }}
{{- if or .mutating $root.Values.webhooks.matchConditions.skipOwnedPodsInValidation }}
  - name: not-a-controllers-pod
    expression: {{ printf "!(request.kind.kind == 'Pod' && request.operation == 'CREATE' && has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller == true) && (request.userInfo.username in %s || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in %s))))" $trusted $trusted | toJson }}
{{- end }}
{{- if .mutating }}
  - name: pod-spec-changed
    expression: {{ "!(request.operation == 'UPDATE' && has(object.spec) && has(oldObject.spec) && object.spec == oldObject.spec)" | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/* reinvocationPolicy: the value, or "" = IfNeeded when config.mutate lists rules. */}}
{{- define "oomguard.reinvocationPolicy" -}}
{{- if .Values.webhooks.mutating.reinvocationPolicy }}
{{- .Values.webhooks.mutating.reinvocationPolicy }}
{{- else if .Values.config.mutate }}IfNeeded
{{- else }}Never
{{- end }}
{{- end }}

{{/* Labels of the scheduled audit's objects and pods: their own name, so the webhook's
Service, PodDisruptionBudget and NetworkPolicy (which select oomguard.selectorLabels) never
select the audit's pods. */}}
{{- define "oomguard.auditLabels" -}}
helm.sh/chart: {{ include "oomguard.chart" . }}
app.kubernetes.io/name: {{ printf "%s-audit" (include "oomguard.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: audit
app.kubernetes.io/part-of: oomguard
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
