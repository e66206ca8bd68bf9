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

{{/* True (non-empty) when the web tier talks to a Redis outside the release: one server's URL,
or a Sentinel or Cluster deployment (redis.external.mode). */}}
{{- define "hitcounter.externalRedis" -}}
{{- if or .Values.redis.external.url .Values.redis.external.existingSecret .Values.redis.external.mode -}}true{{- end -}}
{{- end -}}

{{/* redis.external.mode: "" (one server, or the release's), sentinel or cluster. */}}
{{- define "hitcounter.externalMode" -}}
{{- default "" .Values.redis.external.mode -}}
{{- end -}}

{{/* The port of one redis.external.hosts entry: its own, else the mode's default (26379 for a
Sentinel, 6379 for a Cluster node). (dict "host" "h:1" "mode" "sentinel") */}}
{{- define "hitcounter.externalHostPort" -}}
{{- $port := regexFind ":[0-9]+$" .host | trimPrefix ":" -}}
{{- if $port -}}{{- $port -}}{{- else if eq .mode "sentinel" -}}26379{{- else -}}6379{{- end -}}
{{- end -}}

{{/* REDIS_HOST with mode sentinel or cluster: redis.external.hosts, each with its port. */}}
{{- define "hitcounter.externalHosts" -}}
{{- $mode := include "hitcounter.externalMode" . -}}
{{- $out := list -}}
{{- range .Values.redis.external.hosts -}}
{{- $host := regexReplaceAll ":[0-9]+$" . "" -}}
{{- $out = append $out (printf "%s:%s" $host (include "hitcounter.externalHostPort" (dict "host" . "mode" $mode))) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* The external Redis's ports for the web NetworkPolicy, comma-separated, each once: with a URL
the one of hitcounter.externalRedisPort; with mode sentinel or cluster the hosts' ports,
web.networkPolicy.externalRedis.port (with sentinel: 6379 when null, the data servers'), and
web.networkPolicy.externalRedis.ports. */}}
{{- define "hitcounter.externalRedisPorts" -}}
{{- $np := .Values.web.networkPolicy.externalRedis -}}
{{- $mode := include "hitcounter.externalMode" . -}}
{{- $ports := list -}}
{{- if $mode -}}
{{- range .Values.redis.external.hosts -}}
{{- $ports = append $ports (include "hitcounter.externalHostPort" (dict "host" . "mode" $mode)) -}}
{{- end -}}
{{- if or (include "hitcounter.isSet" $np.port) (eq $mode "sentinel") -}}
{{- $ports = append $ports (include "hitcounter.externalRedisPort" .) -}}
{{- end -}}
{{- else -}}
{{- $ports = append $ports (include "hitcounter.externalRedisPort" .) -}}
{{- end -}}
{{- range $np.ports -}}
{{- $ports = append $ports (toString .) -}}
{{- end -}}
{{- join "," (uniq $ports) -}}
{{- end -}}

{{/* True (non-empty) when the backup CronJob runs: backup.enabled, with the release's own Redis
(an external Redis is backed up by whoever runs it). */}}
{{- define "hitcounter.backupEnabled" -}}
{{- if and .Values.backup.enabled .Values.redis.enabled (not (include "hitcounter.externalRedis" .)) -}}true{{- end -}}
{{- end -}}

{{- define "hitcounter.backupClaimName" -}}
{{- default (printf "%s-backups" (include "hitcounter.fullname" .)) .Values.backup.persistence.existingClaim -}}
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
{{- fail "redis.enabled is false and no redis.external.url, redis.external.existingSecret or redis.external.mode is set: the web tier needs a Redis" -}}
{{- end -}}
{{- if and .Values.redis.external.url .Values.redis.external.existingSecret -}}
{{- fail "set redis.external.url or redis.external.existingSecret, not both" -}}
{{- end -}}
{{- include "hitcounter.validateExternal" . -}}
{{- $waitReplicas := int (default 0 .Values.web.redisWaitReplicas) -}}
{{- if and (gt $waitReplicas 0) (not (include "hitcounter.externalRedis" .)) -}}
{{- fail (printf "web.redisWaitReplicas is %d but the release's own Redis has no replicas: every write would wait web.redisTimeout and fail; it is for an external Redis with replicas (redis.external.mode sentinel or cluster)" $waitReplicas) -}}
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
{{- $keys := list "redis_app_password" "redis_health_password" -}}
{{- if include "hitcounter.backupEnabled" . -}}{{- $keys = append $keys "redis_backup_password" -}}{{- end -}}
{{- include "hitcounter.checkSecretKeys" (dict "ctx" . "value" "redis.auth.existingSecret" "name" .Values.redis.auth.existingSecret "keys" $keys) -}}
{{- end -}}
{{- range $value := list "passwordSecret" "sentinelPasswordSecret" -}}
{{- with dig $value "name" "" $.Values.redis.external -}}
{{- include "hitcounter.checkSecretKeys" (dict "ctx" $ "value" (printf "redis.external.%s" $value) "name" . "keys" (list (dig $value "key" "password" $.Values.redis.external))) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.backup.restoreFrom (not (include "hitcounter.backupEnabled" .)) -}}
{{- fail "backup.restoreFrom is set but the backup CronJob is off (backup.enabled, and the release's own Redis): the restore reads the backups' claim" -}}
{{- end -}}
{{- end -}}


{{/* The checks of redis.external.mode, hosts and their credentials (part of hitcounter.validate). */}}
{{- define "hitcounter.validateExternal" -}}
{{- $ext := .Values.redis.external -}}
{{- $mode := include "hitcounter.externalMode" . -}}
{{- $passwordSecret := dig "passwordSecret" "name" "" $ext -}}
{{- $sentinelPasswordSecret := dig "sentinelPasswordSecret" "name" "" $ext -}}
{{- if $mode -}}
{{- if or $ext.url $ext.existingSecret -}}
{{- fail (printf "redis.external.mode is %s, whose servers are listed in redis.external.hosts: it cannot be combined with redis.external.url or redis.external.existingSecret (one server's URL); unset those" $mode) -}}
{{- end -}}
{{- if not $ext.hosts -}}
{{- if eq $mode "sentinel" -}}
{{- fail "redis.external.mode is sentinel but redis.external.hosts is empty: list the Sentinels, as host:port (port 26379 when left out)" -}}
{{- else -}}
{{- fail "redis.external.mode is cluster but redis.external.hosts is empty: list some of the cluster's nodes, as host:port (port 6379 when left out)" -}}
{{- end -}}
{{- end -}}
{{- range $ext.hosts -}}
{{- $host := toString . -}}
{{- if not (regexMatch "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)(:[0-9]+)?$" $host) -}}
{{- fail (printf "redis.external.hosts: %q is not host:port or host (an IPv6 address in brackets: [2001:db8::1]:26379)" $host) -}}
{{- end -}}
{{- $port := include "hitcounter.externalHostPort" (dict "host" $host "mode" $mode) | atoi -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
{{- fail (printf "redis.external.hosts: %q: the port must be 1 to 65535" $host) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $mode "sentinel") (not $ext.sentinelMaster) -}}
{{- fail "redis.external.mode is sentinel but redis.external.sentinelMaster is empty: set the name the Sentinels monitor the primary by (sentinel monitor <name> ...)" -}}
{{- end -}}
{{- if and (ne $mode "sentinel") (or $ext.sentinelMaster $ext.sentinelUsername $sentinelPasswordSecret) -}}
{{- fail (printf "redis.external.sentinelMaster, sentinelUsername and sentinelPasswordSecret are for mode sentinel; redis.external.mode is %s" $mode) -}}
{{- end -}}
{{- else -}}
{{- if $ext.hosts -}}
{{- fail "redis.external.hosts is set but redis.external.mode is not: set it to sentinel or cluster (one server is redis.external.url)" -}}
{{- end -}}
{{- if or $ext.sentinelMaster $ext.sentinelUsername $sentinelPasswordSecret -}}
{{- fail "redis.external.sentinelMaster, sentinelUsername and sentinelPasswordSecret are for redis.external.mode sentinel, which is not set" -}}
{{- end -}}
{{- if or $ext.username $passwordSecret -}}
{{- fail "redis.external.username and passwordSecret are for redis.external.mode sentinel or cluster; with redis.external.url the user and password go in the URL" -}}
{{- end -}}
{{- end -}}
{{- end -}}
