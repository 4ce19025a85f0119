# lbfarm: the two commands are `make lab` and `make test`; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := docker.io debootstrap debian-archive-keyring python3-venv apache2-utils wrk nghttp2-client \
	qemu-system-x86 qemu-utils vde2 openssh-client e2fsprogs iputils-ping curl keepalived mmdebstrap
REPORTS := $(CURDIR)/reports
export PATH := $(BIN):$(PATH)
# ansible-core imports cryptography's DSA, which warns on every Ansible start: not lbfarm's to fix
export PYTHONWARNINGS := ignore:DSA is deprecated

.PHONY: help deps docker image vm-image lab lab-destroy bench test unit versions lint docs stats-screenshot molecule molecule-first-lane molecule-second-lane

help:
	@echo "make lab          build the local lab (3 containers) and run site.yml on it (BALANCER=nginx|haproxy)"
	@echo "                  HA=1: two balancers m3, m4 sharing the floating address 172.30.56.10 (keepalived)"
	@echo "make lab LAB=vm   the same lab in three QEMU VMs, IPVS by default (BALANCER=ipvs|nginx|haproxy);"
	@echo "                  reach it with: ip netns exec lbfarm-lab curl http://192.168.100.1/"
	@echo "                  RELEASE=trixie: on Debian 13 instead of Debian 12 (containers and VMs alike)"
	@echo "make lab-destroy  remove the local lab (a pair's m4 too) and the VM lab"
	@echo "make bench        every balancer and the backends under ab (and h2load over TLS), side by side (BENCH_ARGS='-e benchmark_requests=100000')"
	@echo "                  LAB=vm: on the VM lab, IPVS beside nginx and HAProxy"
	@echo "make test         unit tests, lint and every Molecule scenario"
	@echo "make docs         docs/variables.md from the roles' argument_specs (stats-screenshot: docs/haproxy-stats.png)"

deps: docker $(VENV)/.installed

# Debian/Ubuntu packages, then a running Docker engine (systemd where it runs, dockerd otherwise).
docker:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== installing $$missing"; \
	  $(SUDO) apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@# Debian 13 ships the docker client apart from the engine (docker-cli, which docker.io only recommends)
	@if ! command -v docker >/dev/null; then \
	  echo "== installing docker-cli (the docker client)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-cli; \
	fi
	@if ! $(SUDO) docker info >/dev/null 2>&1; then \
	  echo "== starting the Docker engine"; \
	  if [ -d /run/systemd/system ]; then $(SUDO) systemctl start docker; \
	  else $(SUDO) sh -c 'nohup dockerd >/var/log/lbfarm-dockerd.log 2>&1 &'; fi; \
	  for i in $$(seq 60); do $(SUDO) docker info >/dev/null 2>&1 && break; sleep 1; done; \
	  $(SUDO) docker info >/dev/null 2>&1 || { echo "the Docker engine does not answer: see" \
	    "$$( [ -d /run/systemd/system ] && echo 'journalctl -u docker' || echo /var/log/lbfarm-dockerd.log)"; exit 1; }; \
	fi

$(VENV)/.installed: requirements.txt requirements-sslyze.txt
	@echo "== Python tools into $(VENV)"
	python3 -m venv $(VENV)
	python3 -m venv $(VENV)/sslyze
	@# pip's own notices (this machine's index settings) go to the log, shown when it fails
	@{ $(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -r requirements.txt \
	  && $(VENV)/sslyze/bin/pip install -q -r requirements-sslyze.txt; } > $(VENV)/pip.log 2>&1 \
	  || { cat $(VENV)/pip.log; echo "pip failed: log in $(VENV)/pip.log"; exit 1; }
	touch $@

# RELEASE=trixie: Debian 13 instead of Debian 12 (bookworm), for the lab's containers and VMs.
RELEASE ?= bookworm
image: deps
	ansible-playbook playbooks/lab_image.yml -e lab_debian_release=$(RELEASE)

# HA=1: a pair of balancers (m3, m4) sharing the floating address .10 (inventory/local-ha).
# LAB=vm: the farm in three QEMU VMs (inventory/vm, run directory .lab/vm), with Mitogen as in the
# Molecule scenarios: one Python per VM instead of one per task, which costs seconds under TCG.
LAB_INVENTORY = $(if $(HA),-i inventory/local -i inventory/local-ha)
VM_LAB_ENV = ANSIBLE_STRATEGY_PLUGINS=$(CURDIR)/strategy_plugins \
	ANSIBLE_STRATEGY=mitogen_linear ANSIBLE_TIMEOUT=60
lab: deps $(if $(filter vm,$(LAB)),vm-image)
ifeq ($(LAB),vm)
	$(VM_LAB_ENV) ansible-playbook -i inventory/vm playbooks/lab_vm.yml -e lab_debian_release=$(RELEASE) $(if $(BALANCER),-e balancer=$(BALANCER))
else
	ansible-playbook $(LAB_INVENTORY) playbooks/lab.yml -e lab_debian_release=$(RELEASE) $(if $(BALANCER),-e balancer=$(BALANCER))
endif

# Everything make lab made: the containers and network, and the VM lab (nothing when there is none).
lab-destroy: deps
	ansible-playbook playbooks/lab_destroy.yml
	ansible-playbook -i inventory/vm playbooks/lab_vm_destroy.yml

# make lab has just set the farm up: the run starts on it (benchmark_converge_first=false).
# LAB=vm: the VM lab's balancers (IPVS, nginx, HAProxy), loaded from its lab client, labelled as VMs.
BENCH_PLAYBOOK = playbooks/benchmark.yml -e benchmark_converge_first=false $(BENCH_ARGS)
bench: lab
ifeq ($(LAB),vm)
	$(VM_LAB_ENV) ansible-playbook -i inventory/vm $(BENCH_PLAYBOOK)
else
	ansible-playbook $(LAB_INVENTORY) $(BENCH_PLAYBOOK)
endif

test: deps
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	@# the lanes start as soon as the VM image is there; lint opens the container lane, and the
	@# unit tests and the daemons' versions the VM lane, which makes the two about as long
	$(MAKE) --no-print-directory vm-image RELEASE=$(VM_SCENARIOS_RELEASE)
	$(MAKE) --no-print-directory molecule FIRST_LANE_FIRST=lint SECOND_LANE_FIRST="unit versions"
	@python3 tests/step_times.py --table $(REPORTS)/steps-*.json
	@python3 tests/junit_summary.py $(REPORTS)/*.xml

# The image of the VM scenarios and the VM lab (QEMU), built once per RELEASE into ~/.cache/lbfarm/vm;
# it carries the lab's base image of its RELEASE (built first if missing) for the cgroup-v2 check.
vm-image: deps
	ansible-playbook molecule/resources/vm/image.yml -e lab_debian_release=$(RELEASE)

unit:
	pytest tests/unit roles/*/tests/unit --junitxml=$(REPORTS)/unit.xml
	pytest roles/zevenet_lb/tests/test_appliance.py -rs --junitxml=$(REPORTS)/zevenet.xml  # skips, saying why, without an appliance

# Each daemon release in the range people run (Debian 11, 12, 13) checks what the roles render
# from each inventory (its trees are built once into ~/.cache/lbfarm/versions), and the README's
# first line is run on the bare base image of Debian 12 (tests/versions).
versions: deps
	$(MAKE) --no-print-directory image RELEASE=bookworm
	pytest tests/versions --junitxml=$(REPORTS)/versions.xml

lint:
	ruff check .
	ruff format --check .
	@# Ansible's YAML loader calls a merge key (<<) followed by the keys it overrides (Molecule's
	@# platforms) duplicates; ansible-lint's yamllint still refuses real duplicate keys. Its notices
	@# (offline mode, Python deprecations in Ansible) go to the log; all of it shows on a failure.
	@mkdir -p $(REPORTS); echo "ansible-lint --profile production (log: reports/ansible-lint.log)"; \
	ANSIBLE_DUPLICATE_YAML_DICT_KEY=ignore ansible-lint --profile production > $(REPORTS)/ansible-lint.log 2>&1 \
	  && tail -n 1 $(REPORTS)/ansible-lint.log || { cat $(REPORTS)/ansible-lint.log; exit 1; }

# The variable tables of docs/variables.md, generated from roles/*/meta/argument_specs.yml.
docs:
	python3 docs/variables.py

# docs/haproxy-stats.png from the running lab (make lab, with HAProxy) and Chromium.
STATS_URL ?= https://172.30.56.4:9999/stats
stats-screenshot:
	python3 docs/stats_screenshot.py --url $(STATS_URL)

# Every scenario (molecule/*), one junit report each, in two lanes side by side (the container work fills the time Ansible spends waiting on the VMs): the VM
# scenarios in the second (they take about as long as the containers' together); every container
# scenario, one at a time, in the first. Each lane has its log in reports/; the second lane's is
# printed when both are done, and a failed lane's failures are printed again at the very end.
SECOND_LANE := vm_farm ipvs_single
VM_SCENARIOS = $(shell grep -l 'resources/vm/create.yml' molecule/*/molecule.yml | cut -d/ -f2)
CONTAINER_SCENARIOS = $(filter-out $(VM_SCENARIOS),$(shell cd molecule && ls */molecule.yml | cut -d/ -f1))
FIRST_LANE_VM_SCENARIOS = $(filter-out $(SECOND_LANE),$(VM_SCENARIOS))

molecule:
	@$(MAKE) --no-print-directory molecule-second-lane > $(REPORTS)/molecule-second-lane.log 2>&1 & second=$$!; \
	first=0; $(MAKE) --no-print-directory molecule-first-lane 2>&1 | tee $(REPORTS)/molecule-first-lane.log || first=$$?; \
	echo "== waiting for the second lane ($(SECOND_LANE)): log in reports/molecule-second-lane.log"; \
	second_rc=0; wait $$second || second_rc=$$?; \
	cat $(REPORTS)/molecule-second-lane.log; \
	for lane in first second; do \
	  grep -q '^== lane failed' $(REPORTS)/molecule-$$lane-lane.log || continue; \
	  echo "== failures in the $$lane lane (whole log: reports/molecule-$$lane-lane.log)"; \
	  sed 's/\x1b\[[0-9;]*m//g' $(REPORTS)/molecule-$$lane-lane.log \
	    | grep -E -A8 '^(fatal|failed): |^E  |^FAILED |^== lane failed' | cut -c1-400 | tail -80 || true; \
	done; \
	echo "== molecule: first lane $$( [ $$first = 0 ] && echo passed || echo FAILED )," \
	  "second lane $$( [ $$second_rc = 0 ] && echo passed || echo FAILED )"; \
	[ $$first = 0 ] && [ $$second_rc = 0 ]

# What each lane runs before its scenarios (make test: lint in the first, the unit tests in the second).
FIRST_LANE_FIRST ?=
SECOND_LANE_FIRST ?=
lane_first = $(if $(1),$(MAKE) --no-print-directory $(1) || { echo "== lane failed: $(1)"; exit 1; })

molecule-first-lane:
	@$(call lane_first,$(FIRST_LANE_FIRST))
	@for scenario in $(CONTAINER_SCENARIOS); do \
	  $(call release_of,$$scenario); \
	  $(MAKE) --no-print-directory image RELEASE=$$release || { echo "== lane failed: image RELEASE=$$release"; exit 1; }; \
	  $(call molecule_test,$$scenario); \
	done
	@for scenario in $(FIRST_LANE_VM_SCENARIOS); do $(call molecule_test,$$scenario); done

molecule-second-lane:
	@$(call lane_first,$(SECOND_LANE_FIRST))
	@# the image of Debian 12 (make versions has built it; that of Debian 13 came with the VM image),
	@# while the first lane runs default: the two lanes never build one image at once (the first
	@# lane builds it itself if it is not there when it needs it)
	@$(MAKE) --no-print-directory image RELEASE=bookworm || echo "== image RELEASE=bookworm failed here"
	@for scenario in $(SECOND_LANE); do $(call molecule_test,$$scenario); done

# The scenarios that run on Debian 13 (the image lbfarm/base:trixie, the VM image of trixie): the
# whole farm with every balancer that runs in containers, the pair and the VMs. The others run on
# Debian 12: roles, the whole farm of backends and the balancer role with HAProxy, then nginx.
# make test builds one VM image: that of the VM scenarios' release.
DEBIAN13_SCENARIOS = default pair vm_farm ipvs_single
VM_SCENARIOS_RELEASE = $(if $(filter $(VM_SCENARIOS),$(DEBIAN13_SCENARIOS)),trixie,bookworm)

# $(call molecule_test,SCENARIO): one scenario, its report, and the time of each of its steps
# (reports/steps-SCENARIO.json, tabled at the end of make test).
release_of = case " $(DEBIAN13_SCENARIOS) " in *" $(1) "*) release=trixie;; *) release=bookworm;; esac

define molecule_test
$(call release_of,$(1)); \
echo "== molecule test -s $(1) on $$release ($$(date +%T))"; \
LBFARM_RELEASE=$$release PYTEST_ADDOPTS="--junitxml=$(REPORTS)/molecule-$(1).xml --durations=8" molecule test -s $(1) 2>&1 \
  | python3 $(CURDIR)/tests/step_times.py --record $(REPORTS)/steps-$(1).json \
  || { echo "== lane failed: molecule test -s $(1)"; exit 1; }
endef
