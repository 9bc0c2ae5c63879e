"""The IOS-style CLI of a router: interpreter, show/debug/clear renderers, transports.

exec.py (sans-I/O interpreter) + tree.py (IOS parsing) + exec_tree.py (the commands);
show_*.py render one family each from the agent's public state; debug.py manages debug
sinks; control_ops.py (control socket), client.py/commands.py (`dmvpnlab cli`) and
ssh.py (paramiko server) are the transports.
"""
