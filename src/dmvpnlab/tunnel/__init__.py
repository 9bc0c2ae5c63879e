"""The mGRE tunnel interface in user space (the kernel here has no ip_gre).

Owns everything between the kernel's routing and the NBMA network: the TAP device
(`tap`), Ethernet/ARP and the next-hop-encoding MACs (`frames`), per-packet IPv4 work
(`ipv4`: checksum, fragments, frag-needed, MSS clamp), the sans-I/O per-packet decisions
(`dataplane`), the GRE codec and the one definition of GRE_PROTO_* (`gre`), the raw
socket (`socket`), the NBMA side as one transport object (`transport`: plain GRE;
`esp_transport`: GRE in ESP with `tunnel protection`, SAs from `ipsec.sadb`) and the
run-time interface where they meet NHRP (`mgre`). May import `nhrp` (only `mgre` does:
the engine answers next hop -> NBMA) and `ipsec`'s ESP side (only `esp_transport`);
never routing, config, lab, cli or the agent.
"""
