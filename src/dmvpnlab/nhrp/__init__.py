"""NHRP (RFC 2332 with Cisco DMVPN behaviour): wire codec, cache, sans-I/O NHS/NHC engine."""
