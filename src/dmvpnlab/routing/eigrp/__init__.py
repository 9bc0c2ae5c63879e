"""EIGRP (RFC 7868) as a sans-I/O protocol core of our own, for the DMVPN hub and spokes.

Why not FRR's eigrpd: it cannot turn split horizon off, has no stub and no next-hop-self
control, so it cannot be a DMVPN hub (issue 10). This package holds the wire codec
(`codec`, `tlvs`), the classic composite metric (`metric`), the neighbour table with
hellos and the reliable transport (`neighbors`: INIT, acks, retransmission, CR/sequence,
MD5, goodbye), DUAL with its topology table (`dual`: successors, feasible successors,
active/query/reply with the RFC 7868 query origin states, split horizon, next-hop-self,
stub, summaries), and `process`, which joins them into one router for one AS
(`EigrpProcess`: bytes and the clock in, packets to send and routes to install out).
Like every protocol package it imports no lab, cli, agent or tunnel code.
"""
