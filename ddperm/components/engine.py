"""PLACEHOLDER: to be written."""

from ddperm.components.base import WindowsContainersGated


class EngineComponent(WindowsContainersGated):
    pass
