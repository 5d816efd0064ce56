#!/usr/bin/env bash
# A real one-node SLURM on this machine, for testing the cluster profile (workflow/profiles/slurm).
#
#   workflow/cluster/local-slurm.sh install  only install the packages (apt-get) when a command is missing
#   workflow/cluster/local-slurm.sh start    install if missing, configure, start munged + slurmctld + slurmd,
#                                            wait until the node is idle (does nothing if already up)
#   workflow/cluster/local-slurm.sh stop     stop the daemons (scontrol shutdown, then munged)
#   workflow/cluster/local-slurm.sh status   the daemons and `sinfo`; exit status 0 when the node answers
#   workflow/cluster/local-slurm.sh env      the line to eval for the client commands: export SLURM_CONF=...
#
# Debian's slurm-wlm and munge packages (installed with apt-get when a command is missing). Every file
# lives under $LOCAL_SLURM_DIR (default /tmp/local-slurm): slurm.conf, gres.conf, the munge key and
# socket, the controller's state, the daemons' logs and pid files. Nothing is mocked: sbatch, squeue,
# scontrol are Debian's commands talking to these daemons. The client commands find the config through
# SLURM_CONF (`eval "$(workflow/cluster/local-slurm.sh env)"`); `start` also links /etc/slurm/slurm.conf
# to it when that file does not exist, so a plain shell works too (`stop` removes only its own link).
#
# Settings that work in a container without systemd or cgroups: proctrack/linuxproc, task/none,
# jobacct_gather/none, no accounting database (squeue is the executor plugin's status command, and
# MinJobAge keeps finished jobs visible to squeue and `scontrol show job` for an hour). The node is
# the machine as `slurmd -C` sees it (hostname, CPUs, topology, RealMemory), partition `local`.
# It also declares one placeholder GPU (GRES gpu with File=/dev/null; LOCAL_SLURM_GPU=0 declares none), so
# that a job asking for `--gpus=1` is scheduled and shows gres/gpu in `scontrol show job`; the job gets no
# real GPU from it (slurmd rejects a gpu GRES without a device file, hence /dev/null).
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/tmp/local-slurm}
PORT=${LOCAL_SLURM_PORT:-6817} # slurmctld; slurmd listens on PORT+1
GPU=${LOCAL_SLURM_GPU:-1} # 1: declare the placeholder GPU
PARTITION=local
CONF=$DIR/etc/slurm.conf
MUNGE_SOCKET=$DIR/munge/munge.socket.2
export SLURM_CONF=$CONF

log() { echo "local-slurm: $*" >&2; }

install_packages() { # exit status 3 when they cannot be installed
    local missing=0 cmd
    mkdir -p "$DIR/log"
    for cmd in munged munge slurmctld slurmd sbatch squeue scontrol sinfo; do
        command -v "$cmd" >/dev/null 2>&1 || missing=1
    done
    [ "$missing" = 0 ] && return 0
    log "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >"$DIR/log/apt.log" 2>&1; then
        apt-get update -q >>"$DIR/log/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends slurm-wlm munge >>"$DIR/log/apt.log" 2>&1 || {
            tail -20 "$DIR/log/apt.log" >&2
            log "could not install slurm-wlm and munge"
            exit 3
        }
    fi
}

pid_alive() { # pid file -> 0 when the process it names is alive (a zombie is not)
    local stat
    [ -s "$1" ] || return 1
    stat=$(ps -o stat= -p "$(cat "$1" 2>/dev/null)" 2>/dev/null) || return 1
    case "$stat" in Z*) return 1 ;; esac
}

node_name() { slurmd -C | sed -n 's/^NodeName=\([^ ]*\).*/\1/p'; }

write_config() {
    local node host
    node=$(slurmd -C | head -1) # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
    host=$(node_name)
    local gres_node="" gres_types=""
    if [ "$GPU" = 1 ]; then
        gres_node=" Gres=gpu:1"
        gres_types="GresTypes=gpu"
        printf '# written by local-slurm.sh: a placeholder GPU, for scheduling only (no device)\nNodeName=%s Name=gpu File=/dev/null\n' \
            "$host" >"$DIR/etc/gres.conf"
    else
        : >"$DIR/etc/gres.conf"
    fi
    cat >"$CONF" <<EOF
# written by workflow/cluster/local-slurm.sh: a one-node SLURM for tests (no cgroups, no accounting)
ClusterName=localslurm
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
$gres_types
$node NodeAddr=127.0.0.1$gres_node State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if pid_alive "$DIR/run/munged.pid"; then
        return 0
    fi
    local user=root
    id munge >/dev/null 2>&1 && user=munge
    if [ ! -s "$DIR/munge/munge.key" ]; then
        mungekey --create --keyfile="$DIR/munge/munge.key" 2>/dev/null ||
            dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 755 "$DIR/munge" # every user's client must reach the socket
    chmod 600 "$DIR/munge/munge.key"
    chown -R "$user" "$DIR/munge"
    # as the munge user where there is one; key, socket, pid, seed and log in its own folder
    runuser -u "$user" -- munged --force --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
        --seed-file="$DIR/munge/munged.seed"
    for _ in $(seq 50); do
        [ -S "$MUNGE_SOCKET" ] && [ -s "$DIR/munge/munged.pid" ] && break
        sleep 0.1
    done
    cp "$DIR/munge/munged.pid" "$DIR/run/munged.pid"
    munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET" >/dev/null || {
        log "munged does not answer (see $DIR/munge/munged.log)"
        exit 1
    }
}

daemon_died() { # pid file, start time -> 0 when the daemon is gone: its pid file names no live process,
    # or it has written none 10 s after the start (a loaded machine can take a moment to write it)
    if [ -s "$1" ]; then ! pid_alive "$1"; else [ $((SECONDS - $2)) -ge 10 ]; fi
}

wait_idle() { # at most 60 s; at once when a daemon died
    local state="" started=$SECONDS deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if daemon_died "$DIR/run/slurmctld.pid" "$started" || daemon_died "$DIR/run/slurmd.pid" "$started"; then break; fi
        state=$(timeout 10 sinfo -h -n "$(node_name)" -o %T 2>/dev/null | head -1 || true)
        case "$state" in
            idle | mixed | allocated) return 0 ;;
        esac
        sleep 0.5
    done
    log "the node did not become idle (state: '${state:-no answer}'); logs in $DIR/log"
    tail -n 5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    exit 1
}

start() {
    mkdir -p "$DIR"/{etc,munge,state,spool,run,log}
    install_packages
    if pid_alive "$DIR/run/slurmctld.pid" && pid_alive "$DIR/run/slurmd.pid" && scontrol ping >/dev/null 2>&1; then
        wait_idle
        log "already running (SLURM_CONF=$CONF)"
        return 0
    fi
    stop_daemons quiet # a half-started cluster: start again from nothing
    write_config
    start_munge
    slurmctld -c -f "$CONF" # -c: a cold start, no job of an earlier run is kept
    slurmd -f "$CONF" -N "$(node_name)"
    if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
        mkdir -p /etc/slurm
        ln -sfn "$CONF" /etc/slurm/slurm.conf
    fi
    wait_idle
    log "running: node $(node_name), partition $PARTITION (SLURM_CONF=$CONF)"
}

stop_pid() { # pid file: TERM, wait, KILL
    local file=$1 pid
    pid_alive "$file" || return 0
    pid=$(cat "$file" 2>/dev/null) || return 0 # the daemon removed it as it exited (scontrol shutdown)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        pid_alive "$file" || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop_daemons() {
    if pid_alive "$DIR/run/slurmctld.pid"; then
        scancel --full --quiet --partition "$PARTITION" 2>/dev/null || true
        scontrol shutdown >/dev/null 2>&1 || true # slurmctld and every slurmd
    fi
    stop_pid "$DIR/run/slurmd.pid"
    stop_pid "$DIR/run/slurmctld.pid"
    if pid_alive "$DIR/run/munged.pid"; then
        munged --stop --socket="$MUNGE_SOCKET" >/dev/null 2>&1 || stop_pid "$DIR/run/munged.pid"
        stop_pid "$DIR/run/munged.pid"
    fi
    rm -f "$DIR/run/"*.pid
    [ "${1:-}" = quiet ] || log "stopped"
}

stop() {
    [ -d "$DIR" ] || return 0
    stop_daemons
    if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF" ]; then
        rm -f /etc/slurm/slurm.conf
    fi
}

status() {
    local up=0 name
    for name in munged slurmctld slurmd; do
        if pid_alive "$DIR/run/$name.pid"; then
            echo "$name: running (pid $(cat "$DIR/run/$name.pid"))"
        else
            echo "$name: stopped"
            up=1
        fi
    done
    [ "$up" = 0 ] && sinfo && return 0
    return 1
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *)
        echo "usage: $0 install|start|stop|status|env" >&2
        exit 2
        ;;
esac
