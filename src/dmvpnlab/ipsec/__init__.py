"""IPsec (ESP transport mode, IKEv1) for `tunnel protection`: not built yet; the IPsec issue fills it.

The CLI already shows empty `show crypto ...` tables, and the config parser models the
`crypto isakmp` / `crypto ipsec` lines, so configs that carry them load today.
"""
