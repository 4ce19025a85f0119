"""Ansible's linear strategy run by Mitogen, for every Molecule scenario and the VM lab
(ANSIBLE_STRATEGY=mitogen_linear).

Mitogen keeps one Python per host for the whole run and runs the modules inside it, instead of
copying and starting each module on its own: under TCG (VMs without KVM) that saves seconds per
task, and with `docker exec` per step (containers) a fifth to a half of a run.
Mitogen ships this plugin inside its package, whose path depends on the venv and its Python
version; this file imports it by module name, so a run only points Ansible at this
directory (ANSIBLE_STRATEGY_PLUGINS) and works from any checkout.
"""

from __future__ import annotations

from ansible.errors import AnsibleError

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as error:
    raise AnsibleError(
        f"Mitogen is missing ({error}): the Molecule scenarios and the VM lab run with it; install it with `make deps` "
        "(it is in requirements.txt) or `pip install -r requirements.txt` in the venv Molecule runs from."
    ) from error

# the same construction as Mitogen's own plugins/strategy/mitogen_linear.py
_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """The linear strategy with Mitogen's connections and in-process module runs."""

    def run(self, iterator, play_context, result=0):
        # A play on this machine alone (connection: local, as Molecule's create and destroy) runs
        # without Mitogen: under Mitogen 0.3.54 the async jobs of a collection's module there
        # (community.docker.docker_container) never finish, and such a play has no host to speed up.
        if iterator._play.connection == "local":  # the play's keyword: play_context says "ssh" here
            return _Linear.run(self, iterator, play_context)
        return super().run(iterator, play_context, result)
