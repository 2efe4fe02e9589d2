from cellmon.core.queue.base import MessageQueue, QueuedMessage

__all__ = ["MessageQueue", "QueuedMessage"]
