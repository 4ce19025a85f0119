# lbfarm: the two commands are `make lab` and `make test`; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := docker.io debootstrap debian-archive-keyring python3-venv apache2-utils wrk \
	qemu-system-x86 qemu-utils vde2 openssh-client e2fsprogs
REPORTS := $(CURDIR)/reports
ROLE_SCENARIOS := apache_backend nginx_lb haproxy_lb
export PATH := $(BIN):$(PATH)

.PHONY: help deps docker image lab lab-destroy bench test unit lint molecule

help:
	@echo "make lab          build the local lab (3 containers) and run site.yml on it (BALANCER=nginx|haproxy)"
	@echo "make lab-destroy  remove the local lab"
	@echo "make bench        every balancer and the backends under ab, side by side (BENCH_ARGS='-e benchmark_requests=100000')"
	@echo "make test         unit tests, lint and every Molecule scenario"

deps: docker $(VENV)/.installed

# Debian/Ubuntu packages, then a running Docker engine (systemd where it runs, dockerd otherwise).
docker:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== installing $$missing"; \
	  $(SUDO) apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@if ! $(SUDO) docker info >/dev/null 2>&1; then \
	  echo "== starting the Docker engine"; \
	  if [ -d /run/systemd/system ]; then $(SUDO) systemctl start docker; \
	  else $(SUDO) sh -c 'nohup dockerd >/var/log/lbfarm-dockerd.log 2>&1 &'; fi; \
	  for i in $$(seq 60); do $(SUDO) docker info >/dev/null 2>&1 && break; sleep 1; done; \
	  $(SUDO) docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/lbfarm-dockerd.log"; exit 1; }; \
	fi

$(VENV)/.installed: requirements.txt
	@echo "== Python tools into $(VENV)"
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

image: deps
	ansible-playbook playbooks/lab_image.yml

lab: deps
	ansible-playbook playbooks/lab.yml $(if $(BALANCER),-e balancer=$(BALANCER))

lab-destroy: deps
	ansible-playbook playbooks/lab_destroy.yml

bench: lab
	ansible-playbook playbooks/benchmark.yml $(BENCH_ARGS)

test: deps
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	$(MAKE) --no-print-directory unit lint image molecule
	@python3 tests/junit_summary.py $(REPORTS)/*.xml

unit:
	pytest tests/unit --junitxml=$(REPORTS)/unit.xml

lint:
	ruff check .
	ruff format --check .
	ansible-lint --profile production

# Every scenario: the farm's (molecule/*) and each role's, one junit report each.
molecule:
	@for dir in . $(addprefix roles/,$(ROLE_SCENARIOS)); do \
	  for scenario in $$(cd $$dir/molecule && ls */molecule.yml | cut -d/ -f1); do \
	    report=$(REPORTS)/molecule-$$( [ $$dir = . ] && echo farm || basename $$dir )-$$scenario.xml; \
	    echo "== molecule test -s $$scenario in $$dir"; \
	    (cd $$dir && PYTEST_ADDOPTS="--junitxml=$$report" molecule test -s $$scenario) || exit 1; \
	  done; \
	done
