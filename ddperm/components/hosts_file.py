"""PLACEHOLDER: to be written."""

from ddperm.components.base import Component


class HostsFileComponent(Component):
    pass
