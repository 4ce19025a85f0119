# What the benchmark reads on a farm host before and after each load, for the unit in $UNIT
# (set in front of this script, with $COUNTER). POSIX sh and no Python, so that it runs through `raw` in one
# round trip: a Python module costs seconds per host where the farm runs under emulation.
# The role's filter_plugins/benchmark.py (bench_parse_counters) reads what it prints.
# The whole host's CPU (/proc/stat's cpu line) is read first and last, with the shell's own read
# (no new process): a load's window on the host runs from the last line of the read before it to
# the first line of the read after it, and holds as little of the reads themselves as it can.
read -r stat_first < /proc/stat
echo "== boot_id"
cat /proc/sys/kernel/random/boot_id
echo "== netns"
readlink /proc/self/ns/net
echo "== virt"
systemd-detect-virt 2>/dev/null || echo none
echo "== snmp"
grep '^Tcp:' /proc/net/snmp
cg=$(systemctl show --property ControlGroup --value "$UNIT.service" 2>/dev/null)
echo "== unit $UNIT ${cg:-none}"
if [ -n "$cg" ]; then
  # cgroup v2 at /sys/fs/cgroup, or beside v1 at /sys/fs/cgroup/unified (hybrid, as in Docker
  # containers on a v1 host); v1's cpuacct only where systemd gave the unit a group of its own.
  for f in "/sys/fs/cgroup$cg/cpu.stat" "/sys/fs/cgroup/unified$cg/cpu.stat"; do
    if [ -r "$f" ]; then echo "== cgroup2 $f"; cat "$f"; break; fi
  done
  for f in "/sys/fs/cgroup/cpuacct$cg/cpuacct.usage" "/sys/fs/cgroup/cpu,cpuacct$cg/cpuacct.usage"; do
    if [ -r "$f" ]; then echo "== cgroup1 $f"; cat "$f"; break; fi
  done
  for f in "/sys/fs/cgroup$cg/cgroup.procs" "/sys/fs/cgroup/unified$cg/cgroup.procs" \
    "/sys/fs/cgroup/systemd$cg/cgroup.procs"; do
    if [ -r "$f" ]; then
      echo "== switches"
      for pid in $(cat "$f"); do cat /proc/"$pid"/task/*/status 2>/dev/null; done |
        awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2}
          END {print "voluntary", v + 0; print "nonvoluntary", n + 0}'
      break
    fi
  done
fi
# The balancer's own count of the requests it took in ($COUNTER: its contract's requests_counter)
if [ -n "${COUNTER:-}" ]; then
  echo "== requests"
  sh -c "$COUNTER" 2>/dev/null || echo none
fi
# In clock ticks: a kernel balancer (IPVS) forwards in softirq time, which is charged to no unit;
# the host's CPU is its cost where the host has a kernel of its own (a VM).
echo "== clk_tck"
getconf CLK_TCK 2>/dev/null || echo 100
read -r stat_last < /proc/stat
echo "== stat"
echo "$stat_first"
echo "$stat_last"
