"""An NHRP load generator: thousands of emulated spokes against one real hub agent.

Why a package of its own: the emulated spokes speak NHRP through the same message
builders and codec the agent's NHC uses (`dmvpnlab.nhrp.messages`, `nhrp.codec`) and
GRE through `dmvpnlab.tunnel.gre`, but they are not routers: no cache, no routes, no
data plane, one process for all of them. `fleet` is the sans-I/O core (what to send
when, what a reply means), `stats` the bookkeeping, `wire` the raw socket, `run` the
loop, `command` the `dmvpnlab loadgen` subcommand that places it in a lab.
"""
