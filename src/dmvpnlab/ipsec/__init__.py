"""IPsec for `tunnel protection` (DMVPN: IKEv1 Main Mode with pre-shared keys and Quick
Mode, then ESP transport mode between the NBMA addresses), sans-I/O like `nhrp`.

What is here:
- the IKE engine, `ikev1_engine.IkeEngine` (the one object the agent drives: datagrams
  and the clock in, `outbox` and `events` out, `ike_sas()` for `show crypto isakmp sa`),
  with its parts: Main Mode in `ikev1_phase1` (both roles, IOS's payloads and vendor ids,
  NAT-D) run by `ikev1_mainrun`, phase 1 proposals in `ikev1_proposals`, Quick Mode in
  `ikev1_quickmode` (ESP proposals in `ikev1_esp_proposals`) run by `ikev1_quickrun`,
  protected Informational exchanges (delete, DPD) in `ikev1_info`, DPD timers and NAT
  keepalives in `ikev1_liveness`, the child SA pairs' lives (rekey, delete, expiry) in
  `ikev1_children`, the records in `ikev1_state`, ISAKMP encryption with its IV chains
  in `ikev1_crypt`;
- the contract with the agent and the CLI: `settings` (IpsecSettings with IOS's
  defaults), `events` (Datagram, SA up/down, refusals), `views` (show snapshots);
- the ISAKMP wire codec (`isakmp`, payload models in `isakmp_payloads`, numbers in
  `isakmp_const`), the RFC 2409 key math (`ikev1_keys`), the Diffie-Hellman groups IOS
  offers (`dh`), the Phase 1 CBC ciphers (`ike_cipher`);
- the ESP core (RFC 4303: `esp` for inbound/outbound SAs with seal/open, anti-replay,
  lifetimes and counters; `esp_transforms` for the IOS transforms and their KEYMAT
  lengths; `esp_crypto`, `esp_replay`).

Still to come: the SA database and the wiring into the agent and the tunnel transport;
until then the tunnel carries cleartext GRE. The package imports `cryptography` and the
standard library only, never lab, cli, agent, config or tunnel.
"""
