"""IOS configuration: what a router is told, from text to a typed model and back.

It owns the model of a router's configuration (model.py), the reader that fills it line by
line in IOS's modes (parser.py: the mode machine and `parse_config`/`load_config`/
`ConfigSession`; modes.py: the seam to the handler modules global_mode, interface_mode,
crypto_mode, router_mode, keychain_mode, acl_mode (with acl_entry, one permit/deny line)
and services_mode (NAT, DHCP, ip routing/default-gateway/domain), one per family of
modes), the IOS words and verdicts the exec
CLI shares (tokens.py, with the one reader of numbers, and errors.py), the one rule for the
characters of config text (text.py: file bytes and lone surrogates become visible
escapes, so what is stored always renders and reads back) and the `show running-config`
renderer (render.py, with render_services for the router-wide services' lines). It imports only the standard library, dmvpnlab.ifnames and the
NHRP defaults (dmvpnlab.nhrp.config); cli, agent and lab import it, never the reverse.
"""
