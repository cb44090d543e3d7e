"""Redis clients with deadlines: no command waits longer than ``deadline`` seconds, idle
connections are checked before use, and a connection that failed is replaced by a new one on
the next command — so a Redis that stalls or goes away gives errors quickly (mapped to 503),
and the node recovers by itself when it comes back. Nothing connects until first use."""

from __future__ import annotations

from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, Redis

#: seconds a command or a connection attempt may take before it fails
DEADLINE = 2.0
#: seconds a pooled connection may sit idle before it is checked with a PING
HEALTH_CHECK = 10


def _pool(url: str, deadline: float) -> ConnectionPool:
    return ConnectionPool.from_url(
        url,
        socket_timeout=deadline,
        socket_connect_timeout=deadline,
        socket_keepalive=True,
        health_check_interval=HEALTH_CHECK,
    )


def make_redis(url: str, *, deadline: float = DEADLINE) -> Redis:
    return Redis.from_pool(_pool(url, deadline))  # closing the client closes its pool


def make_job_queue_redis(url: str, *, deadline: float = DEADLINE) -> ArqRedis:
    """arq's client for enqueuing jobs, with the same deadlines (arq's own `create_pool`
    connects at once and sets no command timeout)."""
    client = ArqRedis(_pool(url, deadline))
    client.auto_close_connection_pool = True  # what `Redis.from_pool` sets
    return client
