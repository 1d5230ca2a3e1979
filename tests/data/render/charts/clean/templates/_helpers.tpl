{{- define "clean.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "clean.labels" -}}
clean.kubernetes.io/name: {{ .Chart.Name }}
clean.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
