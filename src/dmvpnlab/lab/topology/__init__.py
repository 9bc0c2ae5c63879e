"""Topologies: a lab's intent, from an input format, resolved into the fully addressed model.

The pipeline is ``input format -> spec objects -> resolve -> model``: `yamlfile` reads a
topology YAML file into plain data (with the line of every key), through `boundedyaml`
(PyYAML with limits on size, depth, alias expansion and scalars); `spec` validates plain
data into spec objects (`TopologySpec`: what was written, nothing filled in); `resolve`
(with `routers`, `rules`, `checks` and the default plan in `addressing`) fills in every
address and checks the whole; `model.Topology` is what the builder, the config renderer
and the tables read; `build` joins the stages and turns a problem at a spec field path
into the user's one-paragraph `errors.TopologyError`. Another input format only has to
produce spec objects (or their plain data) and call `build`. The package may import
pydantic, PyYAML (`yamlfile` and `boundedyaml` only), `dmvpnlab.ifnames` and
`dmvpnlab.lab.management`; nothing that runs a lab.
"""
