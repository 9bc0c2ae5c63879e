"""IPsec for `tunnel protection` (DMVPN: IKEv1 Main Mode with pre-shared keys and Quick
Mode, then ESP transport mode between the NBMA addresses), sans-I/O like `nhrp`: the
ISAKMP wire codec (`isakmp`, its numbers in `isakmp_const`), the RFC 2409 key math
(`ikev1_keys`), the Diffie-Hellman groups IOS offers (`dh`) and the Phase 1 CBC ciphers
(`ike_cipher`) are here; the IKE state machine and the SA database come next. The CLI
already shows empty `show crypto ...` tables and the config parser models the `crypto
isakmp` / `crypto ipsec` lines, so configs that carry them load today. The package
imports `cryptography` and the standard library only, never lab, cli, agent, config or
tunnel.
"""
