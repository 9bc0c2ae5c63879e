"""Labs wired as their file says: CML/VIRL imports and dmvpnlab's own wired format.

A native topology (`dmvpnlab.lab.topology`) derives its wiring from roles (hub, spokes,
an ISP); a wired lab takes every node, interface and link from the file and every
router's behaviour from its whole IOS config. `model` is the resolved form the builder
and the Lab read; `dmvpnlab.lab.cml` produces it from CML 2 YAML and VIRL XML.

Running one (`Lab.up(WiredTopology)`, `dmvpnlab up LABFILE`):
- `plan`: the pure build plan (nodes, veth ends, host commands, captures, notes), where
  every refusal happens before anything exists;
- `conditioning`: tc tbf / nftables numgen commands for a link's bandwidth and loss, and
  the line saying what this kernel cannot apply (delay, jitter: no netem);
- `facts`: what the routers' configs say (NBMA, tunnels, LANs) for the table and checks;
- `builder`: namespaces, links, hosts, management, as the native builder does;
- `agents`: one agent per router with its config and `--interface-map`, hubs first;
- `dhcp_hosts`: DHCP clients of hosts that lease; `table`: the node table rows;
- `bringup`: the steps in order, called by `dmvpnlab.lab.lab.Lab`.
"""
