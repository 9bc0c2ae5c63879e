"""dmvpnlab: a DMVPN emulation testbed (user-space mGRE + NHRP + IPsec in Mininet namespaces)."""

__version__ = "0.1.0"
