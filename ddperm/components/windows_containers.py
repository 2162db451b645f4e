"""PLACEHOLDER: to be written."""

from ddperm.components.base import WindowsContainersGated


class WindowsContainersComponent(WindowsContainersGated):
    pass
