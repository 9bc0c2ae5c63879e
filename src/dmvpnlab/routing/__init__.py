"""The router's routing: its kernel side, and the FRR configuration its IOS lines mean.

`kernel` owns netlink access for the router's namespace (over pyroute2): installing and
removing routes under their own protocol numbers, the route lookups NHRP asks (answered as
`nhrp.routes.Route`), and best-effort sysctls; it may import `nhrp.routes` only (never the
NHRP engine), and no tunnel, config, lab, cli or agent.

`frr_config` (with `frr_common`, `frr_ospf`, `frr_bgp`, `frr_rip`) translates a router's
`router ospf|bgp|rip` sections and interface routing lines into an FRR 8.4 integrated
frr.conf, purely (no files, no processes; issue 10 item 1). It imports `config.model` and
`ifnames`, never lab, cli or agent. Not yet used by the agent.
"""
