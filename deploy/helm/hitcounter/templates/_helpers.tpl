{{/* Names, labels and derived values shared by the templates. */}}

{{- define "hitcounter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hitcounter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hitcounter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "hitcounter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selectorLabels with a component: (dict "ctx" $ "component" "web") */}}
{{- define "hitcounter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hitcounter.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hitcounter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hitcounter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hitcounter.webImage" -}}
{{- printf "%s:%s" .Values.image.web.repository (default .Chart.AppVersion .Values.image.web.tag) -}}
{{- end -}}

{{- define "hitcounter.redisImage" -}}
{{- printf "%s:%s" .Values.image.redis.repository (default .Chart.AppVersion .Values.image.redis.tag) -}}
{{- end -}}

{{/* True (non-empty) when the web tier talks to a Redis outside the release. */}}
{{- define "hitcounter.externalRedis" -}}
{{- if or .Values.redis.external.url .Values.redis.external.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "hitcounter.redisSecretName" -}}
{{- default (printf "%s-redis" (include "hitcounter.fullname" .)) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{- define "hitcounter.webSecretName" -}}
{{- default (printf "%s-web" (include "hitcounter.fullname" .)) .Values.web.existingSecret -}}
{{- end -}}

{{/*
Non-empty when an optional value is set: null (or a key removed with --set x=null) and "" mean
"the service's default", while 0 is a real setting, so `if` and `with` cannot tell them apart.
*/}}
{{- define "hitcounter.isSet" -}}
{{- if and (not (kindIs "invalid" .)) (ne (toString .) "") -}}true{{- end -}}
{{- end -}}

{{/* The external Redis's port for the web NetworkPolicy: the value, else the URL's, else 6379. */}}
{{- define "hitcounter.externalRedisPort" -}}
{{- $np := .Values.web.networkPolicy.externalRedis -}}
{{- if include "hitcounter.isSet" $np.port -}}
{{- $np.port -}}
{{- else if .Values.redis.external.url -}}
{{- $host := (urlParse .Values.redis.external.url).host -}}
{{- $port := regexFind ":[0-9]+$" $host | trimPrefix ":" -}}
{{- default "6379" $port -}}
{{- else -}}
6379
{{- end -}}
{{- end -}}

{{- define "hitcounter.redisURLSecretName" -}}
{{- default (printf "%s-redis-url" (include "hitcounter.fullname" .)) .Values.redis.external.existingSecret -}}
{{- end -}}

{{/*
GOMEMLIMIT in bytes: web.goMemLimit when set, else web.goMemLimitPercent of
web.resources.limits.memory. Quantities with a binary or decimal suffix (Ki Mi Gi K M G) or
plain bytes are understood; anything else (e.g. "0.5Gi") fails the render with a message.
*/}}
{{- define "hitcounter.goMemLimit" -}}
{{- if .Values.web.goMemLimit -}}
{{- .Values.web.goMemLimit -}}
{{- else -}}
{{- $limit := "" -}}
{{- with .Values.web.resources -}}{{- with .limits -}}{{- with .memory -}}{{- $limit = toString . -}}{{- end -}}{{- end -}}{{- end -}}
{{- if $limit -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|K|M|G)?$" $limit) -}}
{{- fail (printf "web.resources.limits.memory %q: the chart derives GOMEMLIMIT from it and understands only an integer with Ki, Mi, Gi, K, M or G; set web.goMemLimit yourself" $limit) -}}
{{- end -}}
{{- $n := regexFind "^[0-9]+" $limit | atoi -}}
{{- $unit := trimPrefix (toString $n) $limit -}}
{{- $factor := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "K" 1000 "M" 1000000 "G" 1000000000) $unit -}}
{{- div (mul $n $factor .Values.web.goMemLimitPercent) 100 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A duration value (250ms, 5s, 1m; the schema allows only these forms) in milliseconds. */}}
{{- define "hitcounter.ms" -}}
{{- $n := regexFind "^[0-9]+" . | atoi -}}
{{- $unit := trimPrefix (toString $n) . -}}
{{- mul $n (get (dict "ms" 1 "s" 1000 "m" 60000) $unit) -}}
{{- end -}}

{{/* Fails when the named Secret exists in the cluster and lacks one of the keys. */}}
{{- define "hitcounter.checkSecretKeys" -}}
{{- $secret := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- if $secret -}}
{{- range .keys -}}
{{- if not (hasKey (default dict $secret.data) .) -}}
{{- fail (printf "%s: Secret %q has no key %q (it needs %s)" $.value $.name . (join ", " $.keys)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Checks across values that the schema cannot express. */}}
{{- define "hitcounter.validate" -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail (printf "autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)" .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if ge (include "hitcounter.ms" .Values.web.shutdownDrainDelay | atoi) (include "hitcounter.ms" .Values.web.shutdownTimeout | atoi) -}}
{{- fail (printf "web.shutdownDrainDelay (%s) must be shorter than web.shutdownTimeout (%s), which includes it" .Values.web.shutdownDrainDelay .Values.web.shutdownTimeout) -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not (include "hitcounter.externalRedis" .)) -}}
{{- fail "redis.enabled is false and no redis.external.url or redis.external.existingSecret is set: the web tier needs a Redis" -}}
{{- end -}}
{{- if and .Values.redis.external.url .Values.redis.external.existingSecret -}}
{{- fail "set redis.external.url or redis.external.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.web.trustedProxies) -}}
{{- fail "ingress.enabled is true but web.trustedProxies is empty: every client would appear as the ingress controller and share its rate limits; set web.trustedProxies to the controller's pod network (a CIDR)" -}}
{{- end -}}
{{- /* A Secret of the user's that lacks a key would start pods that fail on a missing file;
say which key instead. Only where the cluster can be read (not helm template). */}}
{{- if .Values.web.existingSecret -}}
{{- include "hitcounter.checkSecretKeys" (dict "ctx" . "value" "web.existingSecret" "name" .Values.web.existingSecret "keys" (list "operator_token" "visitor_key")) -}}
{{- end -}}
{{- if and .Values.redis.auth.existingSecret (not (include "hitcounter.externalRedis" .)) -}}
{{- include "hitcounter.checkSecretKeys" (dict "ctx" . "value" "redis.auth.existingSecret" "name" .Values.redis.auth.existingSecret "keys" (list "redis_app_password" "redis_health_password")) -}}
{{- end -}}
{{- end -}}
