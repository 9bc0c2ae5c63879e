"""EIGRP (RFC 7868) as a sans-I/O protocol core of our own, for the DMVPN hub and spokes.

Why not FRR's eigrpd: it cannot turn split horizon off, has no stub and no next-hop-self
control, so it cannot be a DMVPN hub (issue 10). This package holds the wire codec
(`codec`, `tlvs`) and the classic composite metric (`metric`); neighbour state, RTP and
DUAL come next. Like every protocol package it imports no lab, cli, agent or tunnel code.
"""
