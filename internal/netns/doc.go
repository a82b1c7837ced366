// Package netns is the sandboxes' network on one host: what lets a
// function reach the world the way a Lambda function does (outbound TCP
// and UDP, no inbound connections, no SMTP) while nothing on the host but
// Kumo's edge and a DNS resolver is reachable from it, and no sandbox
// reaches another.
//
// # Layout
//
// For a server whose ID is X (derived from its data dir, like the
// sandbox driver's cgroup parent, so that two servers on one machine
// never touch each other's parts):
//
//	host                                       sandbox (its own netns)
//	 ├─ bridge kumo-X, address G = first host   ├─ lo
//	 │  address of the range (10.2xx.0.1/16)    └─ eth0  address S of the range,
//	 │   ├─ kvX1 ─────── veth pair ───────────────┘      default route via G
//	 │   ├─ kvX2 …  (one per sandbox; every port "isolated": ports
//	 │   │           exchange frames only with the bridge, never with
//	 │   │           each other)
//	 ├─ nftables table "inet kumo-X"
//	 ├─ DNS forwarder on G:53 (UDP and TCP) → the host's resolvers
//	 └─ the edge also listening on G:port (ListenEdge), so a sandbox's
//	    AWS_ENDPOINT_URL is EdgeURL()
//
// The range is Config.Range, or else the first /16 from 10.200.0.0/16 to
// 10.254.0.0/16 (starting at one derived from X) that overlaps none of
// the host's routes, addresses or resolvers; a configured range that
// overlaps them is refused. G is its first host address, sandboxes get
// the others in turn (next fit, so an address is reused as late as
// possible). The bridge and veths take the MTU of the default route's
// interface.
//
// # Rules (table inet kumo-X; every chain has policy accept and decides
// only about traffic from or to the bridge)
//
//	input        from the bridge: replies to the host accepted; TCP to
//	             G:edge port and UDP/TCP to G:53 accepted; other TCP
//	             refused with a reset, everything else with ICMP port
//	             unreachable. This covers every host address (G, the
//	             host's own IPs); the host's loopback is not even
//	             routable from a sandbox (127/8 there is its own lo).
//	forward      bridge to bridge dropped (routed sandbox-to-sandbox
//	             traffic; bridged traffic is stopped by port isolation);
//	             into the bridge only ct established/related, the rest
//	             dropped (no inbound connections); out of the bridge:
//	             sources outside the range dropped, TCP port 25 refused
//	             with a reset, TCP and UDP accepted, the rest refused.
//	output       to the bridge only ct established/related (replies of
//	             the edge and the DNS forwarder); host-made connections
//	             into sandboxes refused.
//	postrouting  (nat) sources in the range leaving by any interface but
//	             the bridge are masqueraded: out of the default route,
//	             or whatever route the destination takes.
//
// Start enables IPv4 forwarding (net.ipv4.ip_forward=1) and leaves it on
// at Close: other software on the host may rely on it. A host whose own
// firewall drops forwarded traffic (a forward chain with policy drop, as
// Docker installs) must accept traffic from and to the bridge for
// sandboxes to reach the world.
//
// # Once and per sandbox
//
// Start (once, at server start): Cleanup of a crashed run's parts, range
// choice, the bridge and its address, ip_forward, the table, the DNS
// forwarder. ListenEdge adds one input rule for the edge's port. Attach
// (per sandbox, given the pid of a process in its network namespace):
// one veth pair created with its peer directly in the sandbox's
// namespace, the port isolated, then eth0's address, link and default
// route set through a netlink handle in that namespace (a server thread
// enters the namespace only to open that handle's socket, before any
// function code runs there, and leaves it at once). It costs about 1.2 ms on an idle machine (more
// when namespaces are being torn down at the same time), which is why
// the linux sandbox driver attaches its warm sandboxes when it makes
// them, off the cold-start path. Detach removes the pair in the
// background (deleting a device waits for RCU grace periods) and frees
// the address only then.
//
// # Functions in a VPC
//
// A sandbox of a function in a VPC gets a Policy (Attachment.SetPolicy,
// before its runtime starts): a regular chain sb-<address in hex> in the
// table, reached from the head of the forward chain by "iif bridge ip
// saddr S jump sb-S". The chain returns what the security groups' egress
// rules allow — narrowed to the VPC's CIDR without a NAT gateway — and
// rejects the rest; what returns still meets the forward chain's rules
// for every sandbox (no sandbox to sandbox, no SMTP). The edge and the
// DNS forwarder (input chain) stay reachable. Detach removes the chain
// and its jump before the address can be reused; Cleanup removes them
// with the table.
//
// # Crashes and cleanup
//
// Everything is named after X: the bridge kumo-X (its address and route
// go with it), the veths kvX…, the table inet kumo-X. When the server
// dies, the sandboxes die with it (the driver's parent-death signal), and
// with their namespaces their veths; Cleanup(X), which Start calls,
// removes whatever is left: the bridge, any veth whose namespace is still
// held by something, and the table. Close does the same on shutdown.
//
// # What this package must never do
//
// Enter a sandbox's namespace from a thread that then goes on to serve
// anything else; touch links, tables or addresses not named after its own
// ID; or open a path into a sandbox other than the edge and DNS ports.
package netns
