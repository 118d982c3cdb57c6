#!/bin/sh
# Stand-ins for OpenBSD programs the agent runs, for the benchmarks: installed (copied) as
# ROOT/bench-bin/{rcctl,pfctl,vmctl,vmd,sysctl}; what this script does depends on the name it is called by.
# Each succeeds at once and keeps what it must remember in ROOT/var/run/tool-stub/. They are not the test
# doubles of test/doubles/: those check grammars and start real processes, and (being Node programs) cost
# tens of milliseconds per call, which would make the footprint benchmark's 1,000 applies take many minutes
# and put their cost into the agent's children's CPU time. The real rcctl(8) is a ksh script, closer to this.
#   rcctl   every service exists, is enabled and runs; `set NAME flags ...` kept for `get NAME flags`
#   pfctl   -nf/-f/-F/-e/-d succeed; -s prints nothing
#   vmd     -n: configuration OK
#   vmctl   start NAME records NAME; status lists the recorded VMs as running; reload succeeds
#   sysctl  -n NAME prints the value last set (0 before); NAME=VALUE sets it
# Parameter expansion, not dirname/basename, and mkdir only before a write: a call is one shell start.
dir="${0%/*}/../var/run/tool-stub"
keep() { [ -d "$dir" ] || mkdir -p "$dir"; }
case "${0##*/}" in
  rcctl)
    case "$1" in
      check | start | restart | reload | stop) echo "$2(ok)" ;;
      get)
        if [ "$3" = flags ]; then
          f=""
          [ -f "$dir/$2.flags" ] && IFS= read -r f <"$dir/$2.flags"
          printf '%s\n' "$f"
        fi
        ;;
      set)
        if [ "$3" = flags ]; then
          name="$2"
          shift 3
          keep
          printf '%s\n' "$*" >"$dir/$name.flags.tmp" && mv "$dir/$name.flags.tmp" "$dir/$name.flags"
        fi
        ;;
    esac
    ;;
  pfctl) ;;
  vmd) echo "configuration OK" ;;
  vmctl)
    case "$1" in
      start) keep && touch "$dir/vm.$2" ;;
      status)
        echo "   ID   PID VCPUS  MAXMEM  CURMEM     TTY        OWNER    STATE   NAME"
        i=1
        for f in "$dir"/vm.*; do
          [ -e "$f" ] || continue
          printf '%5d %5d %5d %7s %7s %7s %12s %8s %s\n' "$i" "$((1000 + i))" 1 2.0G 1.1G ttyp$i root running "${f##*/vm.}"
          i=$((i + 1))
        done
        ;;
    esac
    ;;
  sysctl)
    if [ "$1" = -n ]; then
      cat "$dir/sysctl.$2" 2>/dev/null || echo 0
    else
      name="${1%%=*}"
      keep
      old="$(cat "$dir/sysctl.$name" 2>/dev/null || echo 0)"
      printf '%s\n' "${1#*=}" >"$dir/sysctl.$name"
      echo "$name: $old -> ${1#*=}"
    fi
    ;;
  *) echo "tool-stub: called as ${0##*/}" >&2 && exit 1 ;;
esac
exit 0
