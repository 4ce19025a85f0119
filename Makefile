# lbfarm: the two commands are `make lab` and `make test`; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := docker.io debootstrap debian-archive-keyring python3-venv apache2-utils wrk \
	qemu-system-x86 qemu-utils vde2 openssh-client e2fsprogs iputils-ping
REPORTS := $(CURDIR)/reports
ROLE_SCENARIOS := apache_backend nginx_lb haproxy_lb
export PATH := $(BIN):$(PATH)

.PHONY: help deps docker image lab lab-destroy bench test unit lint molecule molecule-containers molecule-vms

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

# Every scenario, one junit report each: the farm's (molecule/*) and each role's on containers,
# and beside them, in a second lane, the VM scenarios (those using molecule/resources/vm; QEMU
# under TCG leaves about half the CPU idle while Ansible waits on the VMs). The VM lane's log is
# printed once both lanes are done.
VM_SCENARIOS = $(shell grep -l 'resources/vm/create.yml' molecule/*/molecule.yml | cut -d/ -f2)
CONTAINER_SCENARIOS = $(filter-out $(VM_SCENARIOS),$(shell cd molecule && ls */molecule.yml | cut -d/ -f1))

molecule:
	@$(MAKE) --no-print-directory molecule-vms > $(REPORTS)/molecule-vms.log 2>&1 & vms=$$!; \
	containers=0; $(MAKE) --no-print-directory molecule-containers || containers=$$?; \
	echo "== waiting for the VM lane ($(VM_SCENARIOS)): log in reports/molecule-vms.log"; \
	vmlane=0; wait $$vms || vmlane=$$?; \
	cat $(REPORTS)/molecule-vms.log; \
	echo "== molecule: containers lane $$( [ $$containers = 0 ] && echo passed || echo FAILED )," \
	  "VM lane $$( [ $$vmlane = 0 ] && echo passed || echo FAILED )"; \
	[ $$containers = 0 ] && [ $$vmlane = 0 ]

molecule-containers:
	@for scenario in $(CONTAINER_SCENARIOS); do $(call molecule_test,.,farm,$$scenario); done
	@for role in $(ROLE_SCENARIOS); do $(call molecule_test,roles/$$role,$$role,default); done

molecule-vms:
	@for scenario in $(VM_SCENARIOS); do $(call molecule_test,.,farm,$$scenario); done

# $(call molecule_test,DIRECTORY,REPORT PREFIX,SCENARIO): one scenario, its report, timed.
define molecule_test
echo "== molecule test -s $(3) in $(1) ($$(date +%T))"; \
(cd $(1) && PYTEST_ADDOPTS="--junitxml=$(REPORTS)/molecule-$(2)-$(3).xml" molecule test -s $(3)) || exit 1
endef
