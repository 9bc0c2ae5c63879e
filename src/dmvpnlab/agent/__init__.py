"""The router process: one DMVPN router per process, run inside the router's namespace.

It owns the live router (core.py: config -> kernel, the mGRE tunnel, NHRP events, one
asyncio loop; ipsec_node.py: IKE, the SA database and UDP 500/4500 with `tunnel
protection`; crypto_settings.py: the crypto config as engine settings), its command line (command.py, main.py), the JSON state answer (state.py),
the control socket (control.py) and the zygote that forks agents into namespaces
(zygote.py). It imports config, nhrp, tunnel, ipsec, routing and the top-level helpers
(ifnames, jsonline, rundir), never cli or lab: the CLI plugs in through hooks.py
(control operations, debug sinks, an SSH server factory), and dmvpnlab.router is the
one place that hands the CLI's pieces to the agent.
"""
