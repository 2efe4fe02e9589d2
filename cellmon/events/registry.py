"""Handlers by event type: the built-in ones, and those an extension registers.

    from cellmon.events.registry import register_handler

    async def record_quiz_answers(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        ...  # write with context.session; the batch commits after every handler has run

    register_handler("quiz_answer", record_quiz_answers)

A handler gets all the events of its type in a batch, inside the batch's transaction. When a
handler raises, the whole batch is rolled back and retried with exponential back-off
(CELLMON_WORKER_MAX_ATTEMPTS, CELLMON_WORKER_RETRY_BASE_SECONDS); a batch that keeps failing
is split until the failing events are alone, and those go to the dead letters (`cellmon dlq`).
Types without a handler are recorded as generic progress events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cellmon.events.context import EventHandler
from cellmon.events.handlers import record_accesses, record_executions, record_progress_events
from cellmon.events.schemas import (
    ACCESS_ACTIONS,
    EXECUTION_TYPES,
    IngestEvent,
)


@dataclass(slots=True)
class HandlerRegistry:
    generic: EventHandler = record_progress_events
    handlers: dict[str, EventHandler] = field(default_factory=dict)

    def register(self, event_type: str, handler: EventHandler) -> None:
        self.handlers[event_type] = handler

    def unregister(self, event_type: str) -> None:
        """Forget a registered handler: the type goes back to the generic handler."""
        self.handlers.pop(event_type, None)

    def handler_for(self, event_type: str) -> EventHandler:
        return self.handlers.get(event_type, self.generic)

    def group(self, events: Iterable[IngestEvent]) -> list[tuple[EventHandler, list[IngestEvent]]]:
        """The events of each handler, handlers in the order their first event came."""
        groups: dict[EventHandler, list[IngestEvent]] = {}
        for event in events:
            groups.setdefault(self.handler_for(event.event_type), []).append(event)
        return list(groups.items())


def builtin_registry() -> HandlerRegistry:
    """A registry with a handler for every event type the client and the spec name."""
    registry = HandlerRegistry()
    for event_type in EXECUTION_TYPES:
        registry.register(event_type, record_executions)
    for event_type in ACCESS_ACTIONS:
        registry.register(event_type, record_accesses)
    # help, help_stop, session_start, session_end, cell_execution_start and unknown types
    # are progress events; their effect on students and sessions is applied before handlers.
    return registry


default_registry = builtin_registry()


def register_handler(event_type: str, handler: EventHandler) -> None:
    """Route events of `event_type` to `handler` in every worker of this process."""
    default_registry.register(event_type, handler)
