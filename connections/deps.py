"""Composition root of the connections functions: built lazily, once per Lambda container."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from chat.bus import FanoutPublisher, fanout_channel
from chat.model import UserProfile
from chat.store import UserDirectory
from common.clients import Clients
from common.clock import Clock, SystemClock
from common.events import Caller
from common.runtime import once, process_clients
from connections.announce import PresenceAnnouncer
from connections.logic import allowed_origins
from connections.model import TokenExpectations
from connections.service import ConnectionPolicy, ConnectionService
from connections.store import ConnectionStore, PresenceStore
from connections.tokens import JwksKeys, TokenVerifier


@dataclass
class ConnectionsDeps:
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)

    @functools.cached_property
    def connections(self) -> ConnectionService:
        settings = self.clients.settings
        publisher = FanoutPublisher(self.clients.redis, fanout_channel(settings.redis_namespace))
        return ConnectionService(
            store=ConnectionStore(self.clients.dynamodb, settings.connections_table),
            presence=PresenceStore(self.clients.redis, settings.redis_namespace),
            clock=self.clock,
            policy=ConnectionPolicy(
                ttl_seconds=settings.max_connection_seconds,
                max_per_user=settings.max_connections_per_user,
                allowed_origins=allowed_origins(settings.allowed_origins),
            ),
            announce=PresenceAnnouncer(publisher),
            sign_up=self._sign_up,
        )

    def _sign_up(self, caller: Caller, now: datetime) -> None:
        """Cognito signs in only confirmed users: the first connection of one without a
        profile creates it, unverified (a moderator approves it later)."""
        self.sign_up_user(caller, now)

    def sign_up_user(self, caller: Caller, now: datetime | None = None) -> None:
        users = UserDirectory(self.clients.dynamodb, self.clients.settings.users_table)
        profile = UserProfile.signing_up(caller.user_id, caller.username, caller.display_name)
        users.sign_up(profile, now or self.clock.now())

    @functools.cached_property
    def verifier(self) -> TokenVerifier:
        settings = self.clients.settings
        expected = TokenExpectations(
            issuer=settings.cognito_issuer,
            client_id=settings.require("cognito_client_id"),
        )
        return TokenVerifier(JwksKeys(settings.jwks_url, self.clock), expected, self.clock)


def load() -> ConnectionsDeps:
    return once("connections", lambda: ConnectionsDeps(process_clients()))
