"""The routing decision, as pure Python: plain data in, plain data out.

No Django imports here, so the decision can be property-tested, benchmarked
without a database and reused by a simulator. ``routing.batch`` loads the
state from the database, asks this module, and writes the decision back.
"""

from routing.core.choose import AgentPool, choose_agent, plan, rank_cases
from routing.core.explain import Why
from routing.core.rank import level, rank
from routing.core.rules import exclusion_reason, score, serves
from routing.core.state import AgentState, CaseDemand, Decision, Exclusion, Selection

__all__ = [
    "AgentPool",
    "AgentState",
    "CaseDemand",
    "Decision",
    "Exclusion",
    "Selection",
    "Why",
    "choose_agent",
    "exclusion_reason",
    "level",
    "plan",
    "rank",
    "rank_cases",
    "score",
    "serves",
]
