{{/* The chart's name, or nameOverride. */}}
{{- define "ctibridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object's name. */}}
{{- define "ctibridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "ctibridge.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "ctibridge.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "ctibridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ctibridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ctibridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ctibridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ctibridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ctibridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ctibridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret mounted at /run/secrets/ctibridge: an existing one, or the chart's. */}}
{{- define "ctibridge.secretName" -}}
{{- default (printf "%s-secrets" (include "ctibridge.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "ctibridge.hasSecrets" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.values }}true{{ end }}
{{- end }}

{{/* Paths inside the container. */}}
{{- define "ctibridge.configDir" -}}/etc/ctibridge{{- end }}
{{- define "ctibridge.secretsDir" -}}/run/secrets/ctibridge{{- end }}
{{- define "ctibridge.dataDir" -}}/var/lib/ctibridge{{- end }}

{{/*
The config file: values.config with the store the chart runs on. Refuses
values that cannot work, each message naming the value to change.
*/}}
{{- define "ctibridge.config" -}}
{{- $driver := .Values.store.driver }}
{{- if not (has $driver (list "postgres" "sqlite")) }}
{{- fail (printf "store.driver: %q is neither postgres nor sqlite" $driver) }}
{{- end }}
{{- if hasKey .Values.config "store" }}
{{- fail "config.store: the chart writes the store; set store.driver (and, for postgres, the secret named by store.dsnKey) instead" }}
{{- end }}
{{- if hasKey .Values.config "listen" }}
{{- fail "config.listen: the chart sets the listen address from service.port" }}
{{- end }}
{{- $store := dict "driver" $driver }}
{{- if eq $driver "postgres" }}
{{- if not (or .Values.secrets.existingSecret (hasKey .Values.secrets.values .Values.store.dsnKey)) }}
{{- fail (printf "store.driver postgres needs its connection string: set secrets.existingSecret (a Secret with the key %q) or secrets.values.%s" .Values.store.dsnKey .Values.store.dsnKey) }}
{{- end }}
{{- $_ := set $store "dsn_file" (printf "%s/%s" (include "ctibridge.secretsDir" .) .Values.store.dsnKey) }}
{{- else }}
{{- $_ := set $store "dsn" (printf "%s/ctibridge.db" (include "ctibridge.dataDir" .)) }}
{{- end }}
{{- toYaml (merge (dict "store" $store) (deepCopy .Values.config)) }}
{{- end }}

{{/* The pod template of the Deployment (postgres) and the StatefulSet (sqlite). */}}
{{- define "ctibridge.podTemplate" -}}
metadata:
  labels:
    {{- include "ctibridge.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed config or secret rolls the pods.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if .Values.secrets.values }}
    checksum/secrets: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ctibridge.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: ctibridge
      image: {{ include "ctibridge.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - run
        - --config
        - {{ include "ctibridge.configDir" . }}/ctibridge.yaml
        - --log-level
        - {{ .Values.logLevel }}
      env:
        - name: CTIBRIDGE_LISTEN
          value: "0.0.0.0:{{ .Values.service.port }}"
      ports:
        - name: http
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "ctibridge.configDir" . }}
          readOnly: true
        {{- if include "ctibridge.hasSecrets" . }}
        - name: secrets
          mountPath: {{ include "ctibridge.secretsDir" . }}
          readOnly: true
        {{- end }}
        {{- if eq .Values.store.driver "sqlite" }}
        - name: data
          mountPath: {{ include "ctibridge.dataDir" . }}
        {{- end }}
        # The root file system is read-only; SQLite may spill temp files.
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "ctibridge.fullname" . }}
    {{- if include "ctibridge.hasSecrets" . }}
    - name: secrets
      secret:
        secretName: {{ include "ctibridge.secretName" . }}
        # Readable by the pod's group (fsGroup), not by others.
        defaultMode: 0440
    {{- end }}
    - name: tmp
      emptyDir: {}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
