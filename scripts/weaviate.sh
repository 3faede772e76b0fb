#!/usr/bin/env bash
# A local single-node Weaviate server for the weaviate backend's tests.
#
#   scripts/weaviate.sh build   # go install weaviate-server v1.35.2 into the cache (once; ~8 min on 2 cores)
#   scripts/weaviate.sh start   # build if needed, start on 127.0.0.1, wait until ready, print the URL
#   scripts/weaviate.sh url     # print the URL
#   scripts/weaviate.sh status  # say whether it runs
#   scripts/weaviate.sh stop    # stop it and remove its data
#
# Typical use:
#   export KORMED_WEAVIATE_URL=$(scripts/weaviate.sh start)
#   go test ./search/weaviate/
#   scripts/weaviate.sh stop
#
# Environment:
#   KORMED_CACHE            cache root (default ~/.cache/kormed); the binary is
#                           $KORMED_CACHE/weaviate-v1.35.2/weaviate-server
#   KORMED_WEAVIATE_PORT    REST/GraphQL port (default 18080)
#   KORMED_WEAVIATE_GRPC_PORT  gRPC port (default 50051)
#   KORMED_WEAVIATE_STATE   directory of the pid file, log and data
#                           (default ${TMPDIR:-/tmp}/kormed-weaviate-<port>)
#
# The server uses the REST port, the gRPC port and four ports derived from the
# REST port (memberlist gossip/data and raft/raft-rpc: port-100 .. port-97).
# REST, gossip and raft listen on 127.0.0.1; gRPC and the memberlist data port
# listen on all interfaces (Weaviate has no bind setting for them). Profiling
# is off, anonymous access is on (a test server: keep it off shared networks),
# and the data lives in a fresh directory that stop removes.
set -euo pipefail

version=v1.35.2
cache=${KORMED_CACHE:-$HOME/.cache/kormed}/weaviate-$version
bin=$cache/weaviate-server
port=${KORMED_WEAVIATE_PORT:-18080}
grpc_port=${KORMED_WEAVIATE_GRPC_PORT:-50051}
state=${KORMED_WEAVIATE_STATE:-${TMPDIR:-/tmp}/kormed-weaviate-$port}
pidfile=$state/weaviate.pid
logfile=$state/weaviate.log
url=http://127.0.0.1:$port

command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

log() { echo "weaviate.sh: $*" >&2; }

build() {
	if [ -x "$bin" ]; then
		log "$bin already built"
		return
	fi
	command -v go >/dev/null || { log "Go is not installed"; exit 1; }
	mkdir -p "$cache"
	log "building weaviate-server $version into $cache (several minutes)"
	local t0=$SECONDS
	# Outside any module so that the enclosing go.mod plays no part.
	(cd / && GOBIN=$cache GOFLAGS=-mod=mod go install "github.com/weaviate/weaviate/cmd/weaviate-server@$version")
	log "built in $((SECONDS - t0))s"
}

# running prints the pid of our server when it is alive; a pid file naming a
# dead process or another program is stale and removed.
running() {
	[ -f "$pidfile" ] || return 1
	local pid
	pid=$(cat "$pidfile" 2>/dev/null || true)
	if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q weaviate-server; then
		echo "$pid"
		return 0
	fi
	log "removing stale pid file $pidfile (pid ${pid:-?} is not a running weaviate-server)"
	rm -f "$pidfile"
	return 1
}

ready() { curl -fsS -o /dev/null --max-time 2 "$url/v1/.well-known/ready" 2>/dev/null; }

start() {
	if pid=$(running); then
		if ready; then
			log "already running (pid $pid)"
			echo "$url"
			return
		fi
		log "pid $pid runs but is not ready; stopping it first"
		stop
	fi
	build
	if curl -s -o /dev/null --max-time 2 "$url/" 2>/dev/null; then
		log "port $port is already in use by another program; set KORMED_WEAVIATE_PORT"
		exit 1
	fi
	mkdir -p "$state"
	# A fresh data directory per start (removed by stop).
	rm -rf "$state/data"
	mkdir -p "$state/data"
	: >"$logfile"
	(
		cd "$state"
		exec env \
			CLUSTER_HOSTNAME=node1 \
			CLUSTER_ADVERTISE_ADDR=127.0.0.1 \
			CLUSTER_BIND_ADDR=127.0.0.1 \
			CLUSTER_GOSSIP_BIND_PORT=$((port - 100)) \
			CLUSTER_DATA_BIND_PORT=$((port - 99)) \
			RAFT_PORT=$((port - 98)) \
			RAFT_INTERNAL_RPC_PORT=$((port - 97)) \
			RAFT_JOIN=node1:$((port - 98)) \
			RAFT_BOOTSTRAP_EXPECT=1 \
			GRPC_PORT="$grpc_port" \
			GO_PROFILING_DISABLE=true \
			AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true \
			DEFAULT_VECTORIZER_MODULE=none \
			ENABLE_TOKENIZER_KAGOME_KR=true \
			AUTOSCHEMA_ENABLED=false \
			DISABLE_TELEMETRY=true \
			PERSISTENCE_DATA_PATH="$state/data" \
			QUERY_DEFAULTS_LIMIT=25 \
			QUERY_MAXIMUM_RESULTS=10000 \
			LOG_LEVEL=info \
			"$bin" --host 127.0.0.1 --port "$port" --scheme http
	) >>"$logfile" 2>&1 </dev/null &
	echo $! >"$pidfile"
	local pid=$!
	for _ in $(seq 1 120); do
		if ready; then
			log "started (pid $pid, log $logfile)"
			echo "$url"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "weaviate-server exited; last log lines:"
			tail -20 "$logfile" >&2
			rm -f "$pidfile"
			rm -rf "$state/data"
			exit 1
		fi
		sleep 0.5
	done
	log "not ready after 60s; last log lines:"
	tail -20 "$logfile" >&2
	stop
	exit 1
}

stop() {
	local pid
	if pid=$(running); then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "pid $pid ignored SIGTERM for 30s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
		fi
		log "stopped (pid $pid)"
	else
		log "not running"
	fi
	rm -f "$pidfile"
	rm -rf "$state/data"
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop ;;
url) echo "$url" ;;
status)
	if pid=$(running) && ready; then
		echo "running (pid $pid) at $url"
	else
		echo "not running"
		exit 1
	fi
	;;
*)
	echo "usage: $0 build|start|stop|url|status" >&2
	exit 2
	;;
esac
