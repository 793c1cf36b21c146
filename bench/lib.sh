# Helpers the bench scripts share; sourced, not run.

# run_step FILE CMD...: append the duration of CMD in microseconds to FILE;
# CMD must succeed. The clock is bash's EPOCHREALTIME: reading it through
# $(date) would fork, and add a process start to every figure.
run_step() {
  local file=$1; shift
  local t0=${EPOCHREALTIME/./}
  "$@" >/dev/null
  echo $(( ${EPOCHREALTIME/./} - t0 )) >> "$file"
}

# median_ms FILE: the median of FILE's microsecond figures, in ms.
median_ms() {
  sort -n "$1" | awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'
}

# wait_for CMD...: run CMD until it succeeds, for up to 30 s.
wait_for() {
  for _ in $(seq 1 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "timed out waiting for: $*" >&2; return 1
}

# stop_all DIR PID...: TERM the processes and wait for them, then unmount
# what is left mounted under DIR (plugin mounts outlive their daemon) and
# remove DIR.
stop_all() {
  local dir=$1; shift
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
  grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$dir"
}

# print_load WHEN: the machine's CPUs and load averages, so that a figure
# can be read against what else ran (WHEN: "at the start", "at the end").
print_load() {
  printf "machine: %d CPUs, load average %s %s\n" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$1"
}
