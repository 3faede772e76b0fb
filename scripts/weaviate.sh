#!/usr/bin/env bash
# Local Weaviate servers for the weaviate backend's tests: one node, or a
# cluster of N nodes on loopback.
#
#   scripts/weaviate.sh build   # go install weaviate-server v1.35.2 into the cache (once; ~8 min on 2 cores)
#   scripts/weaviate.sh start   # build if needed, start on 127.0.0.1, wait until ready, print the URL
#   scripts/weaviate.sh url     # print the URL
#   scripts/weaviate.sh status  # say whether it runs
#   scripts/weaviate.sh stop    # stop it and remove its data
#
#   scripts/weaviate.sh cluster start [N]        # start N nodes (default 3) joined into one cluster,
#                                                # wait until every node sees all N healthy, print
#                                                # the comma-separated URLs
#   scripts/weaviate.sh cluster urls [N]         # print the comma-separated URLs
#   scripts/weaviate.sh cluster status [N]       # one line per node; exit 1 unless all run
#   scripts/weaviate.sh cluster stop [N]         # stop every node and remove the cluster's data
#   scripts/weaviate.sh cluster kill I           # SIGKILL node I (1..N), as a crash would
#   scripts/weaviate.sh cluster restart I [--wipe]     (up to three starts: see cluster_restart)
#                                                # start node I again (stopping it first if it runs)
#                                                # with its data, or with its data directory emptied;
#                                                # wait until all N nodes see each other healthy
#                                                # again; print its URL
#   scripts/weaviate.sh cluster pid I            # print node I's pid (exit 1 if it is not running)
#
# Typical use:
#   export KORMED_WEAVIATE_URL=$(scripts/weaviate.sh start)
#   go test ./search/weaviate/
#   scripts/weaviate.sh stop
#
#   export KORMED_WEAVIATE_CLUSTER_URLS=$(scripts/weaviate.sh cluster start)
#   go test -run Cluster ./search/weaviate/
#   scripts/weaviate.sh cluster stop
#
# Environment:
#   KORMED_CACHE            cache root (default ~/.cache/kormed); the binary is
#                           $KORMED_CACHE/weaviate-v1.35.2/weaviate-server
#   KORMED_WEAVIATE_PORT    REST/GraphQL port (default 18080)
#   KORMED_WEAVIATE_GRPC_PORT  gRPC port (default 50051)
#   KORMED_WEAVIATE_STATE   directory of the pid file, log and data
#                           (default ${TMPDIR:-/tmp}/kormed-weaviate-<port>)
#   KORMED_WEAVIATE_CLUSTER_PORT  REST port of cluster node 1 (default 18480);
#                           node I listens on it + 20*(I-1)
#   KORMED_WEAVIATE_CLUSTER_GRPC_PORT  gRPC port of cluster node 1 (default
#                           50151); node I's is it + I-1
#   KORMED_WEAVIATE_CLUSTER_STATE  the cluster's directory: nodes (the node
#                           count of the last start) and node<I>/ with
#                           weaviate.pid, weaviate.log and data/ per node
#                           (default ${TMPDIR:-/tmp}/kormed-weaviate-cluster-<port>)
#
# A server uses its REST port, its gRPC port and four ports derived from its
# REST port (memberlist gossip/data and raft/raft-rpc: port-100 .. port-97),
# so the three cluster nodes of the defaults use 18380-18383, 18400-18403,
# 18420-18423, 18480, 18500, 18520 and 50151-50153.
# REST, gossip and raft listen on 127.0.0.1; gRPC and the memberlist data port
# listen on all interfaces (Weaviate has no bind setting for them). Profiling
# is off, anonymous access is on (a test server: keep it off shared networks),
# and the data lives in a fresh directory that stop removes.
#
# A cluster's nodes are node1..nodeN: memberlist in localhost mode
# (CLUSTER_IN_LOCALHOST: each node's data port is published in its gossip
# metadata, its raft RPC port is its raft port + 1), node I joins the gossip
# of the others (CLUSTER_JOIN) and the raft of all (RAFT_JOIN, with
# RAFT_BOOTSTRAP_EXPECT=N). Asynchronous replication (for classes that enable
# it) compares replicas every 5s instead of 30s and propagates objects older
# than 1s instead of 30s, so that a restarted node catches up within seconds
# in the tests (ASYNC_REPLICATION_FREQUENCY, ASYNC_REPLICATION_PROPAGATION_DELAY;
# set them in the environment to override). The nodes read a class from their
# own copy of the schema (COLLECTION_RETRIEVAL_STRATEGY=LocalOnly; override in
# the environment): with Weaviate's default, LeaderOnly, every write asks the
# raft leader for its class, and when the leader dies writes stall until the
# others elect a new one (5.8-10.1 s measured; LeaderOnMismatch 10.1-15.2 s;
# LocalOnly 0.1-0.2 s). A node behind on the schema then can refuse writes to
# a class it does not have yet, which kormed avoids by waiting until every
# node it was given has a new class or property (search/weaviate/schemawait.go).
set -euo pipefail

version=v1.35.2
cache=${KORMED_CACHE:-$HOME/.cache/kormed}/weaviate-$version
bin=$cache/weaviate-server
port=${KORMED_WEAVIATE_PORT:-18080}
grpc_port=${KORMED_WEAVIATE_GRPC_PORT:-50051}
state=${KORMED_WEAVIATE_STATE:-${TMPDIR:-/tmp}/kormed-weaviate-$port}
url=http://127.0.0.1:$port

cport=${KORMED_WEAVIATE_CLUSTER_PORT:-18480}
cgrpc=${KORMED_WEAVIATE_CLUSTER_GRPC_PORT:-50151}
cstate=${KORMED_WEAVIATE_CLUSTER_STATE:-${TMPDIR:-/tmp}/kormed-weaviate-cluster-$cport}

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

# running DIR PORT prints the pid of the server of DIR (pid file
# DIR/weaviate.pid) when it is alive; a pid file naming a dead process or
# another program (not weaviate-server on PORT) is stale and removed.
running() {
	local pidfile=$1/weaviate.pid pid
	[ -f "$pidfile" ] || return 1
	pid=$(cat "$pidfile" 2>/dev/null || true)
	if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "weaviate-server .*--port $2 "; then
		echo "$pid"
		return 0
	fi
	log "removing stale pid file $pidfile (pid ${pid:-?} is not a running weaviate-server on port $2)"
	rm -f "$pidfile"
	return 1
}

# ready URL: the server at URL answers its readiness probe.
ready() { curl -fsS -o /dev/null --max-time 2 "$1/v1/.well-known/ready" 2>/dev/null; }

# in_use PORT: something answers on 127.0.0.1:PORT.
in_use() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null; }

# launch DIR PORT GRPC_PORT [VAR=VALUE...] starts weaviate-server in the
# background with its data in DIR/data (created if missing), its log in
# DIR/weaviate.log and its pid in DIR/weaviate.pid, on REST port PORT, gRPC
# port GRPC_PORT and the four ports derived from PORT; the VAR=VALUE
# settings come after (and so override) the common ones.
launch() {
	local dir=$1 p=$2 g=$3
	shift 3
	mkdir -p "$dir/data"
	: >"$dir/weaviate.log"
	(
		cd "$dir"
		exec env \
			CLUSTER_HOSTNAME=node1 \
			CLUSTER_ADVERTISE_ADDR=127.0.0.1 \
			CLUSTER_BIND_ADDR=127.0.0.1 \
			CLUSTER_GOSSIP_BIND_PORT=$((p - 100)) \
			CLUSTER_DATA_BIND_PORT=$((p - 99)) \
			RAFT_PORT=$((p - 98)) \
			RAFT_INTERNAL_RPC_PORT=$((p - 97)) \
			RAFT_JOIN=node1:$((p - 98)) \
			RAFT_BOOTSTRAP_EXPECT=1 \
			GRPC_PORT="$g" \
			GO_PROFILING_DISABLE=true \
			AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true \
			DEFAULT_VECTORIZER_MODULE=none \
			ENABLE_TOKENIZER_KAGOME_KR=true \
			AUTOSCHEMA_ENABLED=false \
			DISABLE_TELEMETRY=true \
			PERSISTENCE_DATA_PATH="$dir/data" \
			QUERY_DEFAULTS_LIMIT=25 \
			QUERY_MAXIMUM_RESULTS=10000 \
			LOG_LEVEL=info \
			"$@" \
			"$bin" --host 127.0.0.1 --port "$p" --scheme http
	) >>"$dir/weaviate.log" 2>&1 </dev/null &
	echo $! >"$dir/weaviate.pid"
}

# halt PID: SIGTERM, then SIGKILL after 30s.
halt() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	log "pid $pid ignored SIGTERM for 30s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
}

start() {
	if pid=$(running "$state" "$port"); then
		if ready "$url"; then
			log "already running (pid $pid)"
			echo "$url"
			return
		fi
		log "pid $pid runs but is not ready; stopping it first"
		stop
	fi
	build
	if in_use "$port"; then
		log "port $port is already in use by another program; set KORMED_WEAVIATE_PORT"
		exit 1
	fi
	# A fresh data directory per start (removed by stop).
	rm -rf "$state/data"
	launch "$state" "$port" "$grpc_port"
	local pid
	pid=$(cat "$state/weaviate.pid")
	for _ in $(seq 1 120); do
		if ready "$url"; then
			log "started (pid $pid, log $state/weaviate.log)"
			echo "$url"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "weaviate-server exited; last log lines:"
			tail -20 "$state/weaviate.log" >&2
			rm -f "$state/weaviate.pid"
			rm -rf "$state/data"
			exit 1
		fi
		sleep 0.5
	done
	log "not ready after 60s; last log lines:"
	tail -20 "$state/weaviate.log" >&2
	stop
	exit 1
}

stop() {
	local pid
	if pid=$(running "$state" "$port"); then
		halt "$pid"
		log "stopped (pid $pid)"
	else
		log "not running"
	fi
	rm -f "$state/weaviate.pid"
	rm -rf "$state/data"
}

# --- cluster ---------------------------------------------------------------

# Node I's REST port, gRPC port, directory and URL.
node_port() { echo $((cport + 20 * ($1 - 1))); }
node_grpc() { echo $((cgrpc + $1 - 1)); }
node_dir() { echo "$cstate/node$1"; }
node_url() { echo "http://127.0.0.1:$(node_port "$1")"; }

# nodes [N]: the node count: N when given, else the last start's, else 3.
nodes() {
	local n=${1:-}
	[ -n "$n" ] || n=$(cat "$cstate/nodes" 2>/dev/null || true)
	[ -n "$n" ] || n=3
	if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
		log "bad node count $n (want a positive integer)"
		exit 2
	fi
	echo "$n"
}

# node_index I N: check that I is a node of a cluster of N.
node_index() {
	if ! [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || [ "$1" -gt "$2" ]; then
		log "bad node ${1:-(none)} (want 1..$2)"
		exit 2
	fi
}

cluster_urls() {
	local n=$1 i out=""
	for i in $(seq 1 "$n"); do
		out+="${out:+,}$(node_url "$i")"
	done
	echo "$out"
}

# launch_node I N JOIN: start node I of N; JOIN says whether it joins the
# other nodes' gossip (every node but the first one of a fresh cluster).
launch_node() {
	local i=$1 n=$2 join=$3 j raft="" gossip=""
	for j in $(seq 1 "$n"); do
		raft+="${raft:+,}node$j:$(($(node_port "$j") - 98))"
		[ "$j" = "$i" ] || gossip+="${gossip:+,}127.0.0.1:$(($(node_port "$j") - 100))"
	done
	[ "$join" = yes ] || gossip=""
	launch "$(node_dir "$i")" "$(node_port "$i")" "$(node_grpc "$i")" \
		CLUSTER_HOSTNAME="node$i" \
		CLUSTER_IN_LOCALHOST=true \
		CLUSTER_JOIN="$gossip" \
		RAFT_JOIN="$raft" \
		RAFT_BOOTSTRAP_EXPECT="$n" \
		ASYNC_REPLICATION_FREQUENCY="${ASYNC_REPLICATION_FREQUENCY:-5s}" \
		ASYNC_REPLICATION_PROPAGATION_DELAY="${ASYNC_REPLICATION_PROPAGATION_DELAY:-1s}" \
		COLLECTION_RETRIEVAL_STRATEGY="${COLLECTION_RETRIEVAL_STRATEGY:-LocalOnly}"
}

# members_ok I N: node I answers /v1/nodes with N nodes, all HEALTHY.
members_ok() {
	local body total healthy
	body=$(curl -fsS --max-time 3 "$(node_url "$1")/v1/nodes?output=minimal" 2>/dev/null) || return 1
	total=$(grep -o '"status":"[A-Z_]*"' <<<"$body" | wc -l)
	healthy=$(grep -o '"status":"HEALTHY"' <<<"$body" | wc -l)
	[ "$total" -eq "$2" ] && [ "$healthy" -eq "$2" ]
}

# wait_nodes N TIMEOUT NODE...: wait until every NODE is ready and sees N
# healthy nodes; on failure print the last log lines of the NODEs and fail.
wait_nodes() {
	local n=$1 timeout=$2 i ok
	shift 2
	for _ in $(seq 1 $((timeout * 2))); do
		ok=yes
		for i in "$@"; do
			if ! running "$(node_dir "$i")" "$(node_port "$i")" >/dev/null 2>&1; then
				log "node$i exited; last log lines:"
				tail -20 "$(node_dir "$i")/weaviate.log" >&2
				return 1
			fi
			if ! ready "$(node_url "$i")" || ! members_ok "$i" "$n"; then
				ok=no
				break
			fi
		done
		[ "$ok" = yes ] && return 0
		sleep 0.5
	done
	log "the cluster did not form within ${timeout}s; last log lines:"
	for i in "$@"; do
		echo "--- node$i" >&2
		tail -10 "$(node_dir "$i")/weaviate.log" >&2
	done
	return 1
}

cluster_start() {
	local n i pid up=0
	n=$(nodes "${1:-}")
	if [ -f "$cstate/nodes" ] && [ "$(cat "$cstate/nodes")" != "$n" ]; then
		for i in $(seq 1 "$(cat "$cstate/nodes")"); do
			! running "$(node_dir "$i")" "$(node_port "$i")" >/dev/null 2>&1 || up=$((up + 1))
		done
		if [ "$up" -gt 0 ]; then
			log "a cluster of $(cat "$cstate/nodes") nodes runs in $cstate; stop it first"
			exit 1
		fi
	fi
	up=0
	for i in $(seq 1 "$n"); do
		! running "$(node_dir "$i")" "$(node_port "$i")" >/dev/null || up=$((up + 1))
	done
	if [ "$up" -eq "$n" ] && wait_nodes "$n" 5 $(seq 1 "$n") 2>/dev/null; then
		log "already running"
		cluster_urls "$n"
		return
	fi
	if [ "$up" -gt 0 ]; then
		log "$up of $n nodes run but the cluster is not whole; stopping them first"
		cluster_stop "$n"
	fi
	build
	for i in $(seq 1 "$n"); do
		if in_use "$(node_port "$i")"; then
			log "port $(node_port "$i") (node$i) is already in use by another program; set KORMED_WEAVIATE_CLUSTER_PORT"
			exit 1
		fi
	done
	mkdir -p "$cstate"
	echo "$n" >"$cstate/nodes"
	# Fresh data directories (removed by stop). Node 1 starts alone; the
	# others join its gossip once it listens.
	for i in $(seq 1 "$n"); do
		rm -rf "$(node_dir "$i")/data"
	done
	launch_node 1 "$n" no
	local gossip1=$(($(node_port 1) - 100))
	for _ in $(seq 1 120); do
		(exec 3<>"/dev/tcp/127.0.0.1/$gossip1") 2>/dev/null && break
		running "$(node_dir 1)" "$(node_port 1)" >/dev/null || break
		sleep 0.25
	done
	for i in $(seq 2 "$n"); do
		launch_node "$i" "$n" yes
	done
	if ! wait_nodes "$n" 120 $(seq 1 "$n"); then
		cluster_stop "$n"
		exit 1
	fi
	local pids=""
	for i in $(seq 1 "$n"); do
		pid=$(cat "$(node_dir "$i")/weaviate.pid")
		pids+="${pids:+ }$pid"
	done
	log "started $n nodes (pids $pids, logs $cstate/node*/weaviate.log)"
	cluster_urls "$n"
}

cluster_stop() {
	local n i pid
	n=$(nodes "${1:-}")
	for i in $(seq 1 "$n"); do
		if pid=$(running "$(node_dir "$i")" "$(node_port "$i")"); then
			halt "$pid"
			log "node$i stopped (pid $pid)"
		fi
		rm -f "$(node_dir "$i")/weaviate.pid"
		rm -rf "$(node_dir "$i")/data"
	done
	rm -f "$cstate/nodes"
}

cluster_status() {
	local n i pid rc=0
	n=$(nodes "${1:-}")
	for i in $(seq 1 "$n"); do
		if pid=$(running "$(node_dir "$i")" "$(node_port "$i")" 2>/dev/null) && ready "$(node_url "$i")"; then
			echo "node$i running (pid $pid) at $(node_url "$i")"
		else
			echo "node$i not running"
			rc=1
		fi
	done
	return $rc
}

cluster_kill() {
	local n pid
	n=$(nodes)
	node_index "${1:-}" "$n"
	if ! pid=$(running "$(node_dir "$1")" "$(node_port "$1")"); then
		log "node$1 is not running"
		exit 1
	fi
	kill -KILL "$pid"
	for _ in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	rm -f "$(node_dir "$1")/weaviate.pid"
	log "node$1 killed (pid $pid)"
}

cluster_restart() {
	local n i=${1:-} wipe=${2:-} pid others=""
	n=$(nodes)
	node_index "$i" "$n"
	case "$wipe" in
	"" | --wipe) ;;
	*)
		log "unknown restart option $wipe (want --wipe)"
		exit 2
		;;
	esac
	if pid=$(running "$(node_dir "$i")" "$(node_port "$i")" 2>/dev/null); then
		halt "$pid"
		log "node$i stopped (pid $pid)"
	fi
	if in_use "$(node_port "$i")"; then
		log "port $(node_port "$i") (node$i) is in use by another program"
		exit 1
	fi
	# Weaviate 1.35.2 can exit during a rejoining node's start when the raft
	# log it replays creates a class that a later entry dropped (a fatal
	# "migration failed: could not find class ... in schema"); a second start
	# gets past it. Up to three starts, each from a wiped directory with --wipe.
	local attempt
	for attempt in 1 2 3; do
		if [ "$wipe" = --wipe ]; then
			rm -rf "$(node_dir "$i")/data"
		fi
		launch_node "$i" "$n" yes
		if wait_nodes "$n" 120 $(seq 1 "$n"); then
			break
		fi
		if [ "$attempt" = 3 ] || running "$(node_dir "$i")" "$(node_port "$i")" >/dev/null 2>&1; then
			exit 1 # a timeout, or the third exit
		fi
		log "node$i exited during its start (attempt $attempt of 3); starting it again"
	done
	log "node$i restarted (pid $(cat "$(node_dir "$i")/weaviate.pid")${wipe:+, data wiped})"
	node_url "$i"
}

cluster_pid() {
	local n
	n=$(nodes)
	node_index "${1:-}" "$n"
	running "$(node_dir "$1")" "$(node_port "$1")"
}

cluster() {
	local cmd=${1:-}
	shift || true
	case "$cmd" in
	start) cluster_start "$@" ;;
	stop) cluster_stop "$@" ;;
	status) cluster_status "$@" ;;
	urls) cluster_urls "$(nodes "${1:-}")" ;;
	kill) cluster_kill "$@" ;;
	restart) cluster_restart "$@" ;;
	pid) cluster_pid "$@" ;;
	*)
		echo "usage: $0 cluster start|stop|status|urls [N] | kill|pid I | restart I [--wipe]" >&2
		exit 2
		;;
	esac
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop ;;
url) echo "$url" ;;
status)
	if pid=$(running "$state" "$port") && ready "$url"; then
		echo "running (pid $pid) at $url"
	else
		echo "not running"
		exit 1
	fi
	;;
cluster)
	shift
	cluster "$@"
	;;
*)
	echo "usage: $0 build|start|stop|url|status | cluster ..." >&2
	exit 2
	;;
esac
