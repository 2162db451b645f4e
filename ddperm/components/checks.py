"""PLACEHOLDER: to be written."""

from ddperm.components.base import Component


class HyperVComponent(Component):
    pass


class BootloaderComponent(Component):
    pass


class FeaturesComponent(Component):
    pass
