# dmvpnlab: the two commands are `make lab` and `make test` (see README.md).
# Every target needs root: the lab creates network namespaces, veth pairs and bridges.

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.dmvpnlab-installed
TOPOLOGY ?= topologies/default.yaml

# Debian packages the lab needs: mnexec (mininet), captures (tcpdump, dumpcap from tshark),
# addressing/NAT/bridges (iproute2, nftables, bridge-utils), traffic (iperf3, ping), FRR,
# and strongSwan's charon + swanctl as the independent IKEv1 peer of tests/interop
# (standard plugins: openssl, gmp, ...; extra plugins: kernel-libipsec, charon's user-space ESP).
# chromium: headless, to render and check `dmvpnlab report` pages (tests/test_report_*.py).
APT_PACKAGES := mininet tcpdump tshark iproute2 nftables iperf3 iputils-ping bridge-utils frr python3-venv \
                strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libcharon-extra-plugins \
                chromium

.PHONY: setup lab demo test fuzz clean _root _apt

_root:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "dmvpnlab: 'make $(or $(MAKECMDGOALS),setup)' must run as root (try: sudo make $(or $(MAKECMDGOALS),setup)):" \
	       "the lab creates network namespaces, veth pairs and bridges." >&2; exit 1; fi

# Installs only what dpkg says is missing, so a ready machine spends no time here.
# strongSwan's packages (strongswan-starter, pulled in by strongswan-charon) would start a
# charon in the root namespace from their maintainer scripts; the tests run their own
# charons in namespaces, so for this install a policy-rc.d denies every service start
# (invoke-rc.d and deb-systemd-invoke honour it; one already present is left alone) and
# the starter unit is disabled afterwards.
_apt: _root
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:$$missing"; \
	  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections; \
	  export DEBIAN_FRONTEND=noninteractive; own_policy=""; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\n# dmvpnlab setup: no service starts during this install\nexit 101\n' > /usr/sbin/policy-rc.d; \
	    chmod 755 /usr/sbin/policy-rc.d; own_policy=1; fi; \
	  rc=0; apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || rc=$$?; \
	  if [ -n "$$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	  if command -v systemctl >/dev/null; then systemctl disable strongswan-starter.service >/dev/null 2>&1 || true; fi; \
	  exit $$rc; \
	fi

$(PY):
	@echo "setup: creating $(VENV)"
	@python3 -m venv $(VENV)

# Re-installs the package (editable) only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(PY)
	@echo "setup: installing Python dependencies into $(VENV)"
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: _apt $(STAMP)

lab: setup
	$(VENV)/bin/dmvpnlab up $(TOPOLOGY)

demo: setup
	$(VENV)/bin/dmvpnlab demo $(TOPOLOGY)

# pytest exits 5 when it collected no tests; that is reported, not failed (make would turn
# every non-zero code into 2, so the distinction has to be made here).
test: setup
	@rc=0; $(PY) -m pytest tests scenarios || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "test: pytest collected no tests (exit 5): nothing to fail"; exit 0; fi; \
	exit $$rc

# The long fuzz run: every decoder and parser for FUZZ_SECONDS in all (smoke runs are in
# `make test`). Findings land in fuzz/crashes/<target>/, numbers in fuzz/results/.
FUZZ_SECONDS ?= 600
fuzz: setup
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS)

clean: _root
	@if [ -x $(VENV)/bin/dmvpnlab ]; then $(VENV)/bin/dmvpnlab clean; else echo "clean: no $(VENV) yet, nothing was created"; fi
