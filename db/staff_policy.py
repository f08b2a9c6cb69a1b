"""The staff role policy (seed 001), read from one data file: db/data/staff_policy.json.

Roles × actions × field groups, deny by default. The web tier asks `may` before every staff
route (the file maps each route to an action) and db masks every field group a role may not
see, so a template cannot show what it never receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

PUBLIC = "public"  # levels that are not actions: see "levels" in the file
SESSION = "session"
SECOND_FACTOR = "second_factor"
LEVELS = (PUBLIC, SESSION, SECOND_FACTOR)


@dataclass(frozen=True)
class Role:
    code: str
    actions: frozenset[str]
    fields: frozenset[str]
    takes_duties: bool


@dataclass(frozen=True)
class Duty:
    code: str
    actions: frozenset[str]
    fields: frozenset[str]


@dataclass(frozen=True)
class FieldGroup:
    code: str
    personal: bool
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    roles: dict[str, Role]
    duties: dict[str, Duty]
    field_groups: dict[str, FieldGroup]
    never_visible: frozenset[str]
    routes: dict[str, str]  # "METHOD /path" -> action or level
    settings: dict[str, int]

    def grants(self, role: str, duties: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
        """(actions, field groups) of a role with its assigned duties; unknown → nothing."""
        found = self.roles.get(role)
        if found is None:
            return frozenset(), frozenset()
        actions, fields = set(found.actions), set(found.fields)
        if found.takes_duties:
            for code in duties:
                duty = self.duties.get(code)
                if duty is not None:
                    actions |= duty.actions
                    fields |= duty.fields
        return frozenset(actions), frozenset(fields)

    def may(self, role: str, duties: tuple[str, ...], action: str) -> bool:
        return action in self.grants(role, duties)[0]

    def visible_fields(self, role: str, duties: tuple[str, ...]) -> frozenset[str]:
        return self.grants(role, duties)[1]


def _load(data: dict[str, Any]) -> Policy:
    roles = {
        code: Role(
            code,
            frozenset(r["actions"]),
            frozenset(r["fields"]),
            bool(r["takes_duties"]),
        )
        for code, r in data["roles"].items()
    }
    duties = {
        code: Duty(code, frozenset(d["actions"]), frozenset(d["fields"]))
        for code, d in data["duties"].items()
    }
    groups = {
        code: FieldGroup(code, bool(g["personal"]), tuple(g["columns"]))
        for code, g in data["field_groups"].items()
    }
    policy = Policy(
        roles,
        duties,
        groups,
        frozenset(data["never_visible"]),
        dict(data["routes"]),
        {k: int(v) for k, v in data["settings"].items()},
    )
    known_actions = set().union(*(r.actions for r in roles.values()))
    for target in policy.routes.values():
        if target not in known_actions and target not in LEVELS:
            raise ValueError(f"staff policy: route target {target!r} is not an action")
    holders: list[Role | Duty] = [*roles.values(), *duties.values()]
    for holder in holders:
        unknown = holder.fields - groups.keys()
        if unknown:
            raise ValueError(f"staff policy: unknown field groups {sorted(unknown)}")
    for group in groups.values():
        if set(group.columns) & policy.never_visible:
            raise ValueError(f"staff policy: {group.code} exposes a never-visible column")
    return policy


@lru_cache(maxsize=1)
def policy() -> Policy:
    raw = resources.files("db").joinpath("data/staff_policy.json").read_text("utf-8")
    return _load(json.loads(raw))
