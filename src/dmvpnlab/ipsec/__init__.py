"""IPsec for `tunnel protection` (DMVPN: IKEv1 Main Mode with pre-shared keys and Quick
Mode, then ESP transport mode between the NBMA addresses), sans-I/O like `nhrp`: the
ISAKMP wire codec (`isakmp`, its numbers in `isakmp_const`), the RFC 2409 key math
(`ikev1_keys`), the Diffie-Hellman groups IOS offers (`dh`), the Phase 1 CBC ciphers
(`ike_cipher`) and the ESP core (RFC 4303: `esp` for inbound/outbound SAs with seal/open,
anti-replay, lifetimes and counters; `esp_transforms` for the IOS transforms and their
KEYMAT lengths; `esp_crypto`, `esp_replay`) are here; the IKE state machine, the SA
database and the wiring into the tunnel transport come next. Not enforced yet: the
tunnel still carries cleartext GRE. The package imports `cryptography` and the standard
library only, never lab, cli, agent, config or tunnel.
"""
