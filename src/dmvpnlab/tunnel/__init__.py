"""The mGRE tunnel interface in user space (the kernel here has no ip_gre).

- frames:    Ethernet/ARP; next-hop-encoding MACs (02:00 + tunnel IP) and ARP answers.
- gre:       GRE codec (RFC 2784/2890): decode_gre, encode_gre, gre_header.
- ipv4:      header parse, checksum, fragment, ICMP frag-needed, TCP MSS clamp, summary.
- dataplane: sans-I/O TunnelDataplane: from_tap(frame) -> actions, to_tap(packet) -> frame.
- tap:       open_tap/configure_tap/TapDevice (needs CAP_NET_ADMIN, runs in the namespace).
- socket:    RawGreSocket (IP protocol 47, outer header built/stripped by the kernel/us).
"""
