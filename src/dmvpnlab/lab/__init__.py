"""The lab: topologies, the Mininet builder, captures, records and clean-up, the lifecycle CLI, the demo.

It owns what a user runs (`dmvpnlab up/down/status/exec/clean/demo`, the `Lab` API, the
pytest plugin) and everything that exists only because a lab exists: namespaces, links,
the management network, capture processes and the records that let `clean` remove only
what the project created. It may import every other package: it reads captures through
`analysis`, renders startup configs for `config`, talks to routers through the control
socket and the CLI client (`cli.client`, `jsonline`), and starts agents through their
process contract only (`lab/agents.py`: the agent's command line and zygote client);
it never reaches into NHRP or tunnel internals. Nothing outside `lab` imports it.
"""
