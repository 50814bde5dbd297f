# Sourced by the device-session scripts (gpu-session.sh, gpu-perf.sh, gpu-replay.sh): the clock against the call's
# budget, the session log, and `step`, one app run within the time left. The sourcing script sets
#   out     the folder that comes back (created here; the log is $out/session.log)
#   budget  the seconds the call may take
# and may set APP (the command that runs the bundled app; default: the packed one in .gpu/).
app=${APP:-bash .gpu/run.sh}
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
mkdir -p "$out"
log=$out/session.log
say() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$log"; }
step() { # step NAME TIMEOUT ARGS...: one app run, its output appended to the session log
  local name=$1 limit=$2; shift 2
  [ "$limit" -gt "$(($(left) - 5))" ] && limit=$(($(left) - 5))
  [ "$limit" -lt 10 ] && { say "$name: skipped, ${limit}s left"; return 1; }
  say "$name (≤ ${limit}s): $*"
  timeout -k 5 "$limit" $app "$@" >>"$log" 2>&1
  local rc=$?
  say "$name: exit $rc"
  return $rc
}
# The CIFAR-10 files in $data: DATA's folder when set, else .gpu/data/*.xz unpacked into /tmp/gpu-data.
unpack_data() {
  data=/tmp/gpu-data
  mkdir -p $data
  if [ -z "${DATA:-}" ]; then
    for f in .gpu/data/*.xz; do
      python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "$data/$(basename "$f" .xz)"
    done
  else data=$DATA; fi
  ls -l $data >>"$log"
}
