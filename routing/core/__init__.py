"""The routing decision, as pure Python: plain data in, plain data out.

No Django imports here, so the decision can be property-tested, benchmarked
without a database and reused by a simulator. ``routing.services`` loads the
state from the database, asks this module, and writes the decision back.
"""

from routing.core.choose import AgentPool, choose_agent, exclusion_reason, plan, rank_cases, score, serves
from routing.core.rank import level, rank
from routing.core.state import AgentState, CaseDemand, Decision, Exclusion, Selection

__all__ = [
    "AgentPool",
    "AgentState",
    "CaseDemand",
    "Decision",
    "Exclusion",
    "Selection",
    "choose_agent",
    "exclusion_reason",
    "level",
    "plan",
    "rank",
    "rank_cases",
    "score",
    "serves",
]
