"""NHRP (RFC 2332 with Cisco's DMVPN behaviour), sans-I/O.

Owns the wire codec and the one table of packet type names (`codec`; `scapy` wraps it
for analysis), what Cisco puts in each message (`messages`), the `debug nhrp` lines
(`debug`), the cache (`cache`) and the NHS/NHC state machine (`engine`) with its
settings and IOS defaults (`config`), its events (`events`) and the routing question it
asks (`routes`). Imports nothing of the project outside `nhrp`: tunnel, routing, config,
analysis and the agent import it, never the reverse.
"""
