"""The router's kernel side: addresses, links, static and NHRP shortcut routes.

Owns netlink access for the router's namespace (`kernel`, over pyroute2): installing
and removing routes under their own protocol numbers, the route lookups NHRP asks
(answered as `nhrp.routes.Route`), and best-effort sysctls. May import `nhrp.routes`
only (never the NHRP engine), and no tunnel, config, lab, cli or agent.
"""
