"""PLACEHOLDER: to be written."""

from ddperm.components.base import Component


class VHDComponent(Component):
    pass
