"""The runtime's own tables, applied in every service schema before the service's."""

from salesops.consumers import CONSUMER_MIGRATIONS
from salesops.eventstore import EVENT_STORE_MIGRATIONS
from salesops.timers import TIMER_MIGRATIONS

RUNTIME_MIGRATIONS = (*EVENT_STORE_MIGRATIONS, *CONSUMER_MIGRATIONS, *TIMER_MIGRATIONS)
