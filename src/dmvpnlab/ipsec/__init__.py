"""IPsec (ESP transport mode, IKEv1) for `tunnel protection`: not built yet; the IPsec issue fills it.

The CLI already shows empty `show crypto ...` tables, and the config parser models the
`crypto isakmp` / `crypto ipsec` lines, so configs that carry them load today.
The ESP core (RFC 4303, sans I/O, not yet wired to the tunnel transport) is in esp.py
(inbound and outbound SAs: seal/open, anti-replay, lifetimes, counters), with the IOS
transforms and their KEYMAT lengths in esp_transforms.py and the per-packet crypto in
esp_crypto.py and esp_replay.py.
"""
