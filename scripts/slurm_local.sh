#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try `attnlib batch --executor slurm` and to test it:
#
#   sudo bash scripts/slurm_local.sh start   # install slurm-wlm and munge if missing (Debian), start
#                                            # munged, slurmctld and slurmd; wait until the node is idle
#   export SLURM_CONF=/tmp/attnlib-slurm/slurm.conf   # start prints this line: sinfo, sbatch, ... read it
#   sudo bash scripts/slurm_local.sh stop    # cancel its jobs, stop the three daemons by their pids
#   sudo bash scripts/slurm_local.sh install # only install slurm-wlm and munge (CI does it up front)
#
# Everything lives in $ATTNLIB_SLURM_DIR (default /tmp/attnlib-slurm): slurm.conf, munge's socket
# and key, state, logs and pid files; nothing is written under /etc. One partition, `debug`, one
# node with $ATTNLIB_SLURM_CPUS CPUs (default: up to 2), no accounting (sacct cannot answer; the
# batch asks squeue), no GPUs; ports $ATTNLIB_SLURM_PORT and the next (default 16817), so that it
# does not meet a real cluster's. Needs root: slurmd runs the jobs as the users who submit them.
# A requeued job may start again after 10 s (cred_expire; SLURM's default is 120 s).
set -euo pipefail

DIR=${ATTNLIB_SLURM_DIR:-/tmp/attnlib-slurm}
CONF=$DIR/slurm.conf
NODE=$(hostname -s)
CPUS=${ATTNLIB_SLURM_CPUS:-$(( $(nproc) < 2 ? $(nproc) : 2 ))}
PORT=${ATTNLIB_SLURM_PORT:-16817}
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)

die() { echo "slurm_local.sh: $*" >&2; exit 1; }

install() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && return
    command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed and there is no apt-get: install them with your package manager."
    echo "installing slurm-wlm and munge (apt-get) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge"
    cat > "$CONF" <<EOF
# Written by scripts/slurm_local.sh: a one-node cluster, no accounting.
ClusterName=attnlib
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
KillWait=5
ReturnToService=2
SchedulerParameters=sched_interval=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
    chown munge:munge "$DIR/munge" && chmod 711 "$DIR/munge"  # others may reach the socket, not list
    [ -f "$DIR/munge/munge.key" ] || {
        if [ -f /etc/munge/munge.key ]; then cp /etc/munge/munge.key "$DIR/munge/munge.key"
        else mungekey --create --keyfile="$DIR/munge/munge.key"; fi
        chown munge:munge "$DIR/munge/munge.key" && chmod 400 "$DIR/munge/munge.key"
    }
    runuser -u munge -- munged --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
    for _ in $(seq 50); do [ -S "$DIR/munge/munge.socket" ] && return; sleep 0.1; done
    die "munged did not start: see $DIR/munge/munged.log"
}

# One daemon in the foreground of its own session; its pid goes to $DIR/<name>.run.pid.
start_daemon() {
    local name=$1; shift
    setsid "$@" >"$DIR/log/$name.out" 2>&1 < /dev/null &
    echo $! > "$DIR/$name.run.pid"
}

wait_idle() {
    local state=""
    for _ in $(seq 120); do
        state=$(SLURM_CONF=$CONF sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
        [ "$state" = idle ] && return
        sleep 1
    done
    die "the node is '${state:-not known}' after 120 s, not idle: see $DIR/log/"
}

start() {
    [ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as their users): sudo bash $0 start"
    [ -f "$DIR/slurmctld.run.pid" ] && kill -0 "$(cat "$DIR/slurmctld.run.pid")" 2>/dev/null \
        && die "already running (pid $(cat "$DIR/slurmctld.run.pid")): bash $0 stop first"
    install
    write_conf
    start_munged
    start_daemon slurmctld slurmctld -D -c -f "$CONF"   # -c: a fresh start, no jobs from an earlier one
    start_daemon slurmd slurmd -D -f "$CONF"
    wait_idle
    echo "SLURM is up: node $NODE ($CPUS CPUs), partition debug. Use it with:"
    echo "export SLURM_CONF=$CONF"
}

stop_pid() {  # stop_pid FILE: TERM, wait up to 10 s, then KILL
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop() {
    if [ -f "$DIR/slurmctld.run.pid" ] && kill -0 "$(cat "$DIR/slurmctld.run.pid")" 2>/dev/null; then
        local jobs
        jobs=$(SLURM_CONF=$CONF squeue -h -o %A 2>/dev/null | sort -u)
        [ -z "$jobs" ] || SLURM_CONF=$CONF scancel --full $jobs 2>/dev/null || true
        for _ in $(seq 30); do [ -z "$(SLURM_CONF=$CONF squeue -h 2>/dev/null)" ] && break; sleep 1; done
    fi
    stop_pid "$DIR/slurmd.run.pid"
    stop_pid "$DIR/slurmctld.run.pid"
    stop_pid "$DIR/munge/munged.pid"
    echo "SLURM stopped (files kept in $DIR)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    install) install ;;
    *) die "usage: bash $0 start | stop | install" ;;
esac
