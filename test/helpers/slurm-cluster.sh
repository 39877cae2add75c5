#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests of the many-machines recipes: a minimal
# slurm.conf and a munge key in a folder of its own, munged, slurmctld and slurmd started from it, and
# `sinfo` waited on until the node is idle. Nothing outside the folder is touched.
#   slurm-cluster.sh start <dir>   start; prints SLURM_CONF=<dir>/slurm.conf (export it for sbatch, sinfo, ...)
#   slurm-cluster.sh stop <dir>    stop every daemon started from <dir>
#   slurm-cluster.sh run <dir> -- <command...>   start, run the command, stop on exit (also on failure)
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge); exit 3 when they are missing.
set -euo pipefail

die() { echo "slurm-cluster: $*" >&2; exit 1; }

need() {
  for tool in munged slurmctld slurmd sinfo sbatch scontrol; do
    command -v "$tool" >/dev/null 2>&1 || { PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null 2>&1 || { echo "slurm-cluster: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 3; }; }
  done
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();});"
}

start() {
  local dir="$1"
  need
  export PATH="$PATH:/usr/sbin"
  mkdir -p "$dir"/{state,spool,munge}
  dir="$(cd "$dir" && pwd)"
  chmod 700 "$dir/munge"
  dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" status=none
  chmod 400 "$dir/munge/munge.key"
  local user
  user="$(id -un)"
  local force=()
  [[ "$(id -u)" == 0 ]] && force=(--force)
  munged "${force[@]}" --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  local host cpus mem ctld_port slurmd_port
  host="$(hostname -s)"
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
  ctld_port="$(free_port)"
  slurmd_port="$(free_port)"
  cat >"$dir/slurm.conf" <<CONF
ClusterName=ser-test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=$user
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$dir/slurm.conf" -i
  slurmd -f "$dir/slurm.conf"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      echo "SLURM_CONF=$dir/slurm.conf"
      return 0
    fi
    sleep 0.5
  done
  stop "$dir"
  die "the node did not become idle in 30 s; see $dir/slurmctld.log and $dir/slurmd.log"
}

stop() {
  local dir="$1"
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [[ -f "$pidfile" ]]; then
      local pid
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || die "usage: $0 start <dir>"; start "$2" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop <dir>"; stop "$2" ;;
  run)
    [[ $# -ge 4 && "$3" == "--" ]] || die "usage: $0 run <dir> -- <command...>"
    dir="$2"; shift 3
    trap 'stop "$dir"' EXIT
    start "$dir" >/dev/null
    export SLURM_CONF="$(cd "$dir" && pwd)/slurm.conf"
    "$@"
    ;;
  *) die "usage: $0 start|stop|run <dir> [-- command...]" ;;
esac
