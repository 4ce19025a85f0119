"""Ansible's linear strategy run by Mitogen, for the VM scenarios (ANSIBLE_STRATEGY=mitogen_linear).

Without KVM the VMs emulate the CPU (TCG) and every task that starts Python in a guest costs
seconds; Mitogen keeps one Python per host for the whole run and runs the modules inside it.
Mitogen ships this plugin inside its package, whose path depends on the venv and its Python
version; this file imports it by module name, so the scenarios only point Ansible at this
directory (ANSIBLE_STRATEGY_PLUGINS) and work from any checkout.
"""

from __future__ import annotations

from ansible.errors import AnsibleError

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as error:
    raise AnsibleError(
        f"Mitogen is missing ({error}): the VM scenarios run with it; install it with `make deps` "
        "(it is in requirements.txt) or `pip install -r requirements.txt` in the venv Molecule runs from."
    ) from error

# the same construction as Mitogen's own plugins/strategy/mitogen_linear.py
_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """The linear strategy with Mitogen's connections and in-process module runs."""
