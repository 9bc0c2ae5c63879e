"""EIGRP (RFC 7868) as a sans-I/O protocol core of our own, for the DMVPN hub and spokes.

Why not FRR's eigrpd: it cannot turn split horizon off, has no stub and no next-hop-self
control, so it cannot be a DMVPN hub (issue 10). This package holds the wire codec
(`codec`, `tlvs`), the classic composite metric (`metric`), the neighbour table with
hellos and the reliable transport (`neighbors`: INIT, acks, retransmission, CR/sequence,
MD5, goodbye) and DUAL with its topology table (`dual`: successors, feasible successors,
active/query/reply, split horizon, next-hop-self, stub, summaries). They are not yet
joined to each other nor wired into the agent (no routes are installed yet), and DUAL
has one known defect pinned by a strict xfail (counting to infinity when a link subnet
is lost at both ends at once). Like every protocol package it imports no lab, cli, agent
or tunnel code.
"""
