from cellmon.core.bus.base import MessageBus

__all__ = ["MessageBus"]
