"""Mutation fuzzing of every decoder and parser that reads input from outside the router.

Peers (NHRP, GRE, later IKE/ESP/EIGRP), config files, topology files, CLI lines and
captures are all hostile input. Each target in `fuzz.targets` feeds mutated inputs to
one decoder or parser and fails on anything but the typed, documented refusal: an
escaped exception, a broken invariant (e.g. decode -> encode not byte-identical) or an
input that takes longer than the stall limit. `make test` runs a bounded smoke run of
every target (tests/test_fuzz_smoke.py); `make fuzz` runs them for minutes
(`python -m fuzz.run`). This package imports `dmvpnlab`, never the other way round.
"""
