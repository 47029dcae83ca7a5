#!/bin/sh
# Register the SOAR custom search attributes (core/temporal.py SEARCH_ATTRIBUTES) in the namespace.
# Run once by the compose stack's temporal-admin-tools job before any worker or API starts; safe to
# run again: attributes already present with the right type are skipped, and a namespace that is
# missing is created.
#
# Environment:
#   SEARCH_ATTRIBUTES       whitespace-separated Name=Type pairs (Type: Keyword, KeywordList, Bool, ...)
#   TEMPORAL_ADDRESS        frontend host:port (default temporal:7233)
#   TEMPORAL_NAMESPACE      namespace (default "default")
#   NAMESPACE_RETENTION     retention of closed workflows, applied on every run (default 720h = 30 days)
#   HEALTH_WAIT_SECONDS     how long to wait for the server to serve (default 180)
#   NAMESPACE_WAIT_SECONDS  how long to wait for auto-setup to create the namespace before creating
#                           it here (default 60)
set -eu

: "${SEARCH_ATTRIBUTES:?set SEARCH_ATTRIBUTES to the Name=Type pairs to register}"
: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
: "${NAMESPACE_RETENTION:=720h}"
: "${HEALTH_WAIT_SECONDS:=180}"
: "${NAMESPACE_WAIT_SECONDS:=60}"
export TEMPORAL_ADDRESS

log() { echo "register-search-attributes: $*"; }
fail() { echo "register-search-attributes: $*" >&2; exit 1; }
# retry SECONDS CMD...: run CMD until it succeeds, once a second (a namespace just created reaches
# every server-side cache only after a few seconds).
retry() {
  left=$1
  shift
  until "$@"; do
    [ "$left" -le 0 ] && return 1
    sleep 1
    left=$((left - 1))
  done
}

for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  { [ -n "$name" ] && [ -n "$type" ] && [ "$name" != "$pair" ]; } || fail "malformed pair '$pair' (want Name=Type)"
done

# 1. The frontend serves ("NOT_SERVING" does not match the whole word SERVING).
waited=0
until temporal operator cluster health 2>/dev/null | grep -qw SERVING; do
  [ "$waited" -ge "$HEALTH_WAIT_SECONDS" ] &&
    fail "Temporal at $TEMPORAL_ADDRESS is not serving after ${HEALTH_WAIT_SECONDS}s; check 'docker compose logs temporal'"
  sleep 2
  waited=$((waited + 2))
done
log "Temporal at $TEMPORAL_ADDRESS is serving"

# 2. The namespace exists (auto-setup creates it in the background once the server serves).
waited=0
until temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; do
  if [ "$waited" -ge "$NAMESPACE_WAIT_SECONDS" ]; then
    log "namespace $TEMPORAL_NAMESPACE not found; creating it"
    temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$NAMESPACE_RETENTION" ||
      temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null ||
      fail "cannot create namespace $TEMPORAL_NAMESPACE"
    break
  fi
  sleep 2
  waited=$((waited + 2))
done
retry 30 temporal operator namespace update --namespace "$TEMPORAL_NAMESPACE" --retention "$NAMESPACE_RETENTION" \
  >/dev/null 2>&1 ||
  fail "cannot set the retention of namespace $TEMPORAL_NAMESPACE to $NAMESPACE_RETENTION"
log "namespace $TEMPORAL_NAMESPACE ready, retention $NAMESPACE_RETENTION"

# 3. Each attribute: skip when present with the same type, refuse a type clash, otherwise create.
registered_type() {
  temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" | awk -v n="$1" '$1 == n { print $2 }'
}
is_registered() { [ "$(registered_type "$1")" = "$2" ]; }
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  current=$(registered_type "$name")
  if [ "$current" = "$type" ]; then
    log "$name ($type) already registered"
    continue
  fi
  [ -z "$current" ] ||
    fail "$name is registered as $current, not $type; a search attribute's type cannot change in place (use a new name)"
  retry 30 temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type" \
    >/dev/null ||
    fail "cannot create search attribute $name ($type)"
  log "$name ($type) created"
done

# 4. Every attribute is visible before the workers start using it.
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  retry 30 is_registered "$name" "$type" || fail "$name ($type) still not listed after 30s"
done
log "all search attributes registered in namespace $TEMPORAL_NAMESPACE"
