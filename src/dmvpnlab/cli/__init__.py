"""The IOS-style CLI of a router: interpreter, show/debug/clear renderers, transports.

exec.py (sans-I/O interpreter) + tree.py (IOS parsing) + exec_tree.py (the commands);
show_*.py render one family each from the agent's public state; debug.py is the debug
sink of a session; control_ops.py (operations on the agent's control socket),
client.py/commands.py (`dmvpnlab cli`) and ssh.py/ssh_listen.py (paramiko server) are
the transports. The CLI plugs into the agent, never the other way round: from the agent
it imports only the hook types (agent/hooks.py), and dmvpnlab.router hands its pieces
to the agent. It also imports config, nhrp, routing and the top-level helpers (ifnames,
jsonline, rundir), never the lab.
"""
