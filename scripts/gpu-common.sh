# Sourced by the device-session scripts (gpu-session.sh, gpu-perf.sh, gpu-replay.sh, gpu-learning.sh, gpu-all.sh):
# the clock against the call's budget, the session log, and `step`, one app run within the time left. The
# sourcing script sets
#   out     the folder its results go to (created here; the log is $out/session.log)
#   budget  the seconds the call may take
# and may set APP (the command that runs the bundled app; default: the packed one in .gpu/) and SKIP
# (names of steps to leave out, space-separated: gpu-all.sh drops what another part already measures).
app=${APP:-bash .gpu/run.sh}
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
mkdir -p "$out"
log=$out/session.log
say() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$log"; }
step() { # step NAME TIMEOUT ARGS...: one app run, its output appended to the session log
  local name=$1 limit=$2; shift 2
  case " ${SKIP:-} " in *" $name "*) say "$name: skipped (SKIP)"; return 0 ;; esac
  [ "$limit" -gt "$(($(left) - 5))" ] && limit=$(($(left) - 5))
  [ "$limit" -lt 10 ] && { say "$name: skipped, ${limit}s left"; return 1; }
  say "$name (≤ ${limit}s): $*"
  timeout -k 5 "$limit" $app "$@" >>"$log" 2>&1
  local rc=$?
  say "$name: exit $rc"
  return $rc
}
# The CIFAR-10 files in $data: DATA's folder when set, else rebuilt in /tmp/gpu-data from .gpu/data
# (scripts/gpu-data.py: the app's CIFAR-10 sample + the rest of train_10k, checked against the
# originals' SHA-256), or, as prepared before gpu-data.py, each .gpu/data/*.xz unpacked.
unpack_data() {
  data=/tmp/gpu-data
  mkdir -p $data
  if [ -n "${DATA:-}" ]; then data=$DATA
  elif [ -f .gpu/data/cifar10.json ]; then python3 "$(dirname "${BASH_SOURCE[0]}")/gpu-data.py" unpack .gpu/data $data >>"$log" 2>&1
  else
    for f in .gpu/data/*.xz; do
      python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "$data/$(basename "$f" .xz)"
    done
  fi
  ls -l $data >>"$log"
}
# Start the app without .gpu/run.sh from here on (app, and APP for the scripts this one starts): run.sh
# unpacks its Vulkan .debs over / at every start, and starts at the same moment collide there (two runs of
# the first learning session died of it). Once one start has unpacked node, Dawn and the bundle under
# /tmp/gpu, runs side by side need none of that. A given APP (a rehearsal's) stays as it is.
direct_app() {
  [ -n "${APP:-}" ] && return 0
  [ -x /tmp/gpu/node ] && [ -f /tmp/gpu/app.mjs ] || bash .gpu/run.sh >>"$log" 2>&1 # unpacks, then prints usage
  [ -x /tmp/gpu/node ] && [ -f /tmp/gpu/app.mjs ] || { say "direct_app: nothing unpacked under /tmp/gpu, starts stay with run.sh"; return 1; }
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f $icd ] && export VK_DRIVER_FILES=$icd
  app="/tmp/gpu/node /tmp/gpu/app.mjs"
  export APP=$app
}
