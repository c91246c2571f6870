"""Who sees what on the supervisor dashboard, and the websocket groups that
carry it: a supervisor sees the queues and agents of the teams they
supervise (group ``sup.team.<id>`` each); an admin sees everything (group
``sup.admins``); agents see nothing here. An agent's own socket joins
``agent.<id>``: offers, case changes and typing meant for that agent."""

from __future__ import annotations

from dataclasses import dataclass

from agents.models import Role
from agents.selectors import role_of

ADMINS_GROUP = "sup.admins"


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def team_group(team_id: int) -> str:
    return f"sup.team.{team_id}"


def groups_for_teams(team_ids) -> list[str]:
    """Where a change to a queue or agent of these teams goes (admins always)."""
    return [ADMINS_GROUP, *(team_group(t) for t in sorted({t for t in team_ids if t is not None}))]


@dataclass(frozen=True, slots=True)
class Scope:
    is_admin: bool
    team_ids: frozenset[int]

    @property
    def groups(self) -> list[str]:
        if self.is_admin:
            return [ADMINS_GROUP]
        return [team_group(t) for t in sorted(self.team_ids)]

    def sees_team(self, team_id: int | None) -> bool:
        return self.is_admin or (team_id is not None and team_id in self.team_ids)

    def sees_any_team(self, team_ids) -> bool:
        return self.is_admin or bool(self.team_ids & set(team_ids))


def scope_for(user) -> Scope | None:
    """None for anyone who may not supervise (anonymous, agents)."""
    role = role_of(user)
    if role == Role.ADMIN:
        return Scope(is_admin=True, team_ids=frozenset())
    if role == Role.SUPERVISOR:
        return Scope(is_admin=False, team_ids=frozenset(user.supervised_teams.values_list("pk", flat=True)))
    return None
