"""The lab: topology model, Mininet builder, captures, records and clean-up, lifecycle CLI.

It drives routers only through their public interfaces (startup configs, the control
socket, the CLI), never through NHRP internals.
"""
