"""The router's kernel side: addresses, static and NHRP shortcut routes, route lookups."""
