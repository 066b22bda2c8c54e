# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_carp_agent_global_optspecs
    string join \n h/help V/version
end

function __fish_carp_agent_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_carp_agent_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_carp_agent_using_subcommand
    set -l cmd (__fish_carp_agent_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c carp-agent -n "__fish_carp_agent_needs_command" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -s V -l version -d 'Print version'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "run" -d 'Run the agent (daemon): election, XDP dataplane, VIPs, control socket'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "decode" -d 'Decode and authenticate CARP advertisements (hex frame or pcap file)'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "simulate" -d 'Run a simulated CARP segment and print its election timeline'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "status" -d 'Show every vhid\'s state and the counters (asks the running agent)'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "demote" -d 'Raise or lower the host demotion (`demote +240`, `demote -240`, `--set 0`)'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "state" -d 'Force a vhid to MASTER or BACKUP (`state backup --vhid 1`)'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "reload" -d 'Re-read the configuration and apply it without a failover (as SIGHUP does)'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "check" -d 'Monitoring check: exit 0 OK, 1 WARNING, 2 CRITICAL'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "events" -d 'Stream the agent\'s events as JSON lines (transitions, demotion, badauth)'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "config" -d 'Configuration files: `config check FILE` validates one without running'
complete -c carp-agent -n "__fish_carp_agent_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l config -d 'TOML configuration file (see examples/carp.toml); replaces the single-vhid flags' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l interface -d 'Interface carrying the vhid (e.g. eth0)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l vhid -d 'Virtual host id, 1..=255' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l password -d 'Shared password (at most 19 bytes). Visible to every local user in `ps`: prefer --password-file (kept for ucarp users; warns at start)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l password-file -d 'Read the password from FILE (one trailing \\n or \\r\\n is dropped)' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l vip -d 'Virtual address ADDR[/PREFIX] (default /32 or /128; an IPv6 link-local ADDR may carry %IF, the vhid\'s interface); repeat for each' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l advbase -d 'Advertisement interval in seconds [default: 1]' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l advskew -d 'Skew in 1/256 s, 0..=254; lower wins [default: 0]' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l flavor -d 'Election semantics of the peers [default: freebsd]' -r -f -a "freebsd\t''
openbsd\t''"
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l tie-break -d 'Which of two equal masters (same advbase, advskew, demote) stays MASTER [default: lower-address]. An equal master is never preempted' -r -f -a "lower-address\t'The lower source address stays (ucarp\'s order); converges with every peer'
higher-address\t'The higher source address stays (keepalived\'s VRRP rule); two masters for good against ucarp'
yield\t'Both yield (FreeBSD); the first master-down settles it'"
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l replay-protection -d 'How strictly peers\' advert counters are checked against replays [default: auto]: `strict` when every peer is carp-agent, `off` to accept what the BSDs and ucarp accept' -r -f -a "auto\t'carp-agent peers strictly, BSD and ucarp peers as far as their counters allow'
strict\t'Only carp-agent peers: every advert must carry a sealed counter'
off\t'No checks, as the BSDs and ucarp do'"
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l control-socket -d 'Control socket [default: /run/carp-agent.sock]' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l bpffs -d 'bpffs mount point for the pinned maps [default: /sys/fs/bpf]' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l state-dir -d 'Directory for the lock that keeps a second agent off the same bpffs [default: /run/carp-agent]' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l xdp-mode -d 'XDP attach mode [default: auto]' -r -f -a "auto\t'Skb mode on a veth, native (driver) mode elsewhere, falling back to skb mode with a warning where the driver has no XDP'
native\t'Native (driver) mode only'
skb\t'Generic mode (slower; works on every interface)'"
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l xdp-share -d 'Sharing the interface with other XDP programs through libxdp\'s dispatcher [default: auto]' -r -f -a "auto\t'Join libxdp\'s dispatcher when one is on the interface (an operator ran `xdp-filter` or `xdp-loader`); otherwise take the interface alone'
dispatcher\t'Always attach through libxdp: join the dispatcher, or create one so that other programs can join later'
exclusive\t'Take the interface alone; refuse if any other program is there'"
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l vlan -d 'Run the election on 802.1Q VLAN ID, tagged on the interface (a trunk). Not needed for a VLAN device such as eth0.100' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l source -d 'Advert source address [default: the interface\'s first IPv4 address]' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l up-script -d 'Run PROGRAM on becoming MASTER (like ucarp\'s --upscript)' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l down-script -d 'Run PROGRAM on entering BACKUP or INIT (like ucarp\'s --downscript, also at start-up); CARP_PREVIOUS_STATE tells which' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l pre-master-script -d 'Run PROGRAM when the vhid becomes MASTER and wait for it (at most the hook timeout) before adding the VIPs and answering for them, e.g. `conntrackd -c`; CARP_REASON says why' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l demotion-script -d 'Run PROGRAM whenever the host demotion changes, with CARP_DEMOTION and CARP_PREVIOUS_DEMOTION; added to the file\'s demotion hooks' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l preempt-delay -d 'For SECS after start, do not preempt a master (keepalived\'s preempt_delay, 0..=1000); taking over a silent master is not delayed [default: 0]' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l persist-dir -d 'Directory keeping the demotion set with `demote` across restarts and reboots [default: /var/lib/carp-agent]' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l metrics-listen -d 'Serve Prometheus metrics on http://ADDR/metrics (ADDR is IP:PORT, e.g. 127.0.0.1:9709; IPv6 in brackets) [default: no metrics listener]' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l preempt -d 'Take over from a less preferred master'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l real-mac -d 'Send adverts from the NIC\'s MAC instead of the virtual MAC'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -l realtime -d 'Run at real-time priority (SCHED_FIFO 10) with all memory locked, so a busy host still answers in time; what cannot be had is a warning'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand decode" -l password -d 'Password of the vhid (at most 19 bytes; may be empty)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand decode" -l password-file -d 'Read the password from FILE (one trailing \\n or \\r\\n is dropped)' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand decode" -l vip -d 'A virtual address of the vhid; repeat for each. Written as in the agent\'s configuration; the /prefix and an IPv6 link-local %zone are checked and then ignored (the HMAC covers the address alone)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand decode" -l pcap -d 'Read every IP protocol 112 frame of a pcap or pcapng file' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand decode" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand simulate" -l nodes -d 'Number of nodes on the segment' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand simulate" -l vhids -d 'Number of vhids (with 2, vhid 2 prefers the nodes in reverse order)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand simulate" -l seed -d 'Seed of every random choice (delays, boot times, random faults)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand simulate" -l duration -d 'Simulated seconds (at least 24)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand simulate" -l scenario -d 'The story to simulate' -r -f -a "failover\t'The master crashes at 1/3 of the run and reboots at 2/3'
demote\t'The master is demoted by 240 at 1/3 and restored at 2/3'
partition\t'The master is cut off at 1/3 (split brain); the network heals at 2/3'
bowout\t'The master shuts down gracefully (bow-out) at 1/3 and reboots at 2/3'
random\t'Random topology and faults, then the network heals'"
complete -c carp-agent -n "__fish_carp_agent_using_subcommand simulate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand status" -l control-socket -d 'The agent\'s control socket' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand status" -l json -d 'Print the report as JSON'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand status" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand demote" -l set -d 'Set the demotion to N' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand demote" -l source -d 'Change the share of the external source NAME instead of the administrative demotion (created at its first change, removed at 0)' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand demote" -l control-socket -d 'The agent\'s control socket' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand demote" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand state" -l vhid -d 'The vhid, 1..=255' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand state" -l interface -d 'The interface; needed only if the vhid exists on several' -r
complete -c carp-agent -n "__fish_carp_agent_using_subcommand state" -l control-socket -d 'The agent\'s control socket' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand state" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand reload" -l control-socket -d 'The agent\'s control socket' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand reload" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand check" -l control-socket -d 'The agent\'s control socket' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand check" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand events" -l control-socket -d 'The agent\'s control socket' -r -F
complete -c carp-agent -n "__fish_carp_agent_using_subcommand events" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate FILE as `carp-agent run --config FILE` would, without touching the system (interfaces are looked up when the agent starts)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate FILE as `carp-agent run --config FILE` would, without touching the system (interfaces are looked up when the agent starts)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "run" -d 'Run the agent (daemon): election, XDP dataplane, VIPs, control socket'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "decode" -d 'Decode and authenticate CARP advertisements (hex frame or pcap file)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "simulate" -d 'Run a simulated CARP segment and print its election timeline'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "status" -d 'Show every vhid\'s state and the counters (asks the running agent)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "demote" -d 'Raise or lower the host demotion (`demote +240`, `demote -240`, `--set 0`)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "state" -d 'Force a vhid to MASTER or BACKUP (`state backup --vhid 1`)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "reload" -d 'Re-read the configuration and apply it without a failover (as SIGHUP does)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "check" -d 'Monitoring check: exit 0 OK, 1 WARNING, 2 CRITICAL'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "events" -d 'Stream the agent\'s events as JSON lines (transitions, demotion, badauth)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "config" -d 'Configuration files: `config check FILE` validates one without running'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and not __fish_seen_subcommand_from run decode simulate status demote state reload check events config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c carp-agent -n "__fish_carp_agent_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate FILE as `carp-agent run --config FILE` would, without touching the system (interfaces are looked up when the agent starts)'
