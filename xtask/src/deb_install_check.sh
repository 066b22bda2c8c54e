#!/bin/sh
# `cargo xtask deb`'s install check, run as root inside `unshare --mount`:
# installs the package with `dpkg -i` into a throwaway copy-on-write copy of
# this system (an overlay of /, gone when the mount namespace ends), then in
# that copy: the agent validates the installed configuration, systemd-analyze
# verifies the installed unit, and the installed agent runs with the
# installed example configuration in a network namespace holding the
# interface it names (em0) until its vhids are MASTER, then stops cleanly on
# SIGTERM. Nothing outside the namespace and the overlay changes.
set -eu
deb=$1
tmp=$(mktemp -d)
ns=carp-deb-$$
agent=
cleanup() {
    [ -n "$agent" ] && kill -KILL "$agent" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    umount -l "$tmp" 2>/dev/null || true
    rmdir "$tmp" 2>/dev/null || true
}
trap cleanup EXIT
mount -t tmpfs tmpfs "$tmp"
mkdir "$tmp/upper" "$tmp/work" "$tmp/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$tmp/upper,workdir=$tmp/work" "$tmp/root"
root=$tmp/root
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"
# A /run of its own: no service manager, no other agent's socket or locks.
mount -t tmpfs tmpfs "$root/run"
cp "$deb" "$root/tmp/carp-agent.deb"

echo "deb: dpkg -i in a throwaway root"
chroot "$root" dpkg -i /tmp/carp-agent.deb
chroot "$root" dpkg-query -W -f='${Status}\n' carp-agent | grep -qx 'install ok installed'
chroot "$root" carp-agent --version
# The example names /etc/carp-agent/vhid2.pass, which the operator creates.
chroot "$root" sh -c 'install -m 0600 /dev/null /etc/carp-agent/vhid2.pass &&
    printf "%s\n" testpass > /etc/carp-agent/vhid2.pass'
chroot "$root" carp-agent config check /etc/carp-agent/carp.toml
if chroot "$root" sh -c 'command -v man' >/dev/null; then
    chroot "$root" man -w carp-agent carp-agent-run >/dev/null
    chroot "$root" systemd-analyze verify /usr/lib/systemd/system/carp-agent.service
else
    # No man-db here: the pages are checked to be installed instead.
    chroot "$root" systemd-analyze verify --man=no /usr/lib/systemd/system/carp-agent.service
fi

echo "deb: starting the installed agent with the installed configuration (netns $ns)"
ip netns add "$ns"
ip -n "$ns" link add em0 type veth peer name em0-peer
ip netns exec "$ns" sysctl -q -w net.ipv6.conf.em0.accept_dad=0
ip -n "$ns" addr add 192.168.1.5/24 dev em0
ip -n "$ns" link set lo up
ip -n "$ns" link set em0-peer up
ip -n "$ns" link set em0 up
# `ip netns exec` gives a mount namespace whose sysfs shows the namespace's
# interfaces; the copy gets the same. The agent mounts its own bpffs.
ip netns exec "$ns" sh -c "mount -t sysfs sysfs '$root/sys' &&
    exec chroot '$root' carp-agent run --config /etc/carp-agent/carp.toml" \
    >"$tmp/agent.log" 2>&1 &
agent=$!
masters=0
i=0
while [ "$i" -lt 300 ]; do
    masters=$(chroot "$root" carp-agent status 2>/dev/null | grep -c MASTER || true)
    [ "$masters" -ge 2 ] && break
    kill -0 "$agent" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if [ "$masters" -lt 2 ]; then
    echo "deb: the installed agent did not become MASTER of both vhids; its log:"
    cat "$tmp/agent.log"
    chroot "$root" carp-agent status || true
    exit 1
fi
chroot "$root" carp-agent status
kill -TERM "$agent"
status=0
wait "$agent" || status=$?
agent=
if [ "$status" -ne 0 ]; then
    echo "deb: the installed agent exited with $status on SIGTERM; its log:"
    cat "$tmp/agent.log"
    exit 1
fi
grep -q "carp-agent stopped" "$tmp/agent.log"
echo "deb: installed, configuration valid, unit verified, agent ran (both vhids MASTER) and stopped cleanly"
