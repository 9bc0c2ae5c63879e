"""IPsec for `tunnel protection` (DMVPN: IKEv1 Main Mode with pre-shared keys and Quick
Mode, then ESP transport mode between the NBMA addresses), sans-I/O like `nhrp`: the
ISAKMP wire codec (`isakmp`, its numbers in `isakmp_const`), the RFC 2409 key math
(`ikev1_keys`), the Diffie-Hellman groups IOS offers (`dh`), the Phase 1 CBC ciphers
(`ike_cipher`) and the ESP core (RFC 4303: `esp` for inbound/outbound SAs with seal/open,
anti-replay, lifetimes and counters; `esp_transforms` for the IOS transforms and their
KEYMAT lengths; `esp_crypto`, `esp_replay`) are here, with the IKE engine (`ikev1_*`)
and the SA database (`sadb`: the current outbound SA per peer, inbound SAs by SPI,
rekey and expiry). `tunnel.esp_transport` carries GRE in ESP on those SAs and
`agent.ipsec_node` wires engine, database and UDP sockets together. The package imports `cryptography` and the standard
library only, never lab, cli, agent, config or tunnel.
"""
