"""Labs wired as their file says: CML/VIRL imports and dmvpnlab's own wired format.

A native topology (`dmvpnlab.lab.topology`) derives its wiring from roles (hub, spokes,
an ISP); a wired lab takes every node, interface and link from the file and every
router's behaviour from its whole IOS config. `model` is the resolved form the builder
and the Lab read; `dmvpnlab.lab.cml` produces it from CML 2 YAML and VIRL XML.
"""
