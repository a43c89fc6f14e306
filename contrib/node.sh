# node.sh -- sourced by run.sh and cluster.sh (not run by itself): start
# and stop one node, Portcullis (master + workers) and the nginx in
# front of it, from a data dir that contrib/mkconf.sh filled.  A node is
# named by a shell word; its PIDs are kept in ${NAME}_master and
# ${NAME}_web (POSIX sh has no arrays).

# node_start NAME DATA: start the master from DATA/portcullis.hcl in the
# background, wait (up to 5 s) for its socket, then start nginx from
# DATA/nginx.conf.  nginx runs in a process group of its own (setsid
# execs: a background job of a shell without job control leads no
# group), so that node_stop also ends nginx's workers when its master
# was killed and left them behind.
node_start() {
	./src/portcullis -c "$2/portcullis.hcl" &
	eval "${1}_master=$!"
	_i=0
	while [ ! -S "$2/portcullis.sock" ] && [ $_i -lt 100 ]; do
		kill -0 "$(node_pid "$1" master)" 2>/dev/null || break
		sleep 0.05; _i=$((_i + 1))
	done
	setsid nginx -p "$2/nginx" -c "$2/nginx.conf" -e stderr &
	eval "${1}_web=$!"
}

# node_pid NAME master|web: the PID node_start recorded ("" if none).
node_pid() {
	eval "echo \"\${${1}_${2}:-}\""
}

# node_alive NAME: true while both its master and its nginx run.  A
# wait (or the poll loop's) reaps a dead one, so kill -0 then fails.
node_alive() {
	kill -0 "$(node_pid "$1" master)" 2>/dev/null &&
	    kill -0 "$(node_pid "$1" web)" 2>/dev/null
}

# node_what NAME: which of the two exited and what stopping the node
# ends, for the message saying so.
node_what() {
	if kill -0 "$(node_pid "$1" master)" 2>/dev/null; then
		echo "nginx exited; stopping Portcullis"
	else
		echo "Portcullis exited; stopping nginx"
	fi
}

# node_stop NAME: signal whichever of the two still runs (SIGTERM: the
# master drains its workers; nginx's whole group), forget both and add
# them to $node_stopped, for the caller to wait for.  Never fails, so
# it may run under set -e and in traps.
node_stopped=""
node_stop() {
	_w=$(node_pid "$1" web)
	_m=$(node_pid "$1" master)
	[ -z "$_w" ] || { kill -TERM -"$_w" || kill "$_w" || :; } 2>/dev/null
	[ -z "$_m" ] || kill "$_m" 2>/dev/null || :
	node_stopped="$node_stopped $_w $_m"
	eval "${1}_web= ${1}_master="
	return 0
}
