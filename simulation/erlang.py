"""The Erlang C formula: the M/M/c queue the simulator is validated against
(Poisson arrivals at rate λ, exponential service at rate μ, c agents, first
come first served, nobody leaves)."""

from __future__ import annotations


def erlang_c(agents: int, offered_load: float) -> float:
    """Probability an arriving customer waits, for ``agents`` servers and an
    offered load of ``offered_load`` = λ/μ Erlangs (below ``agents``)."""
    if not 0 < offered_load < agents:
        raise ValueError("the offered load must be positive and below the number of agents")
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / agents
    return b / (1 - rho + rho * b)


def mean_wait(agents: int, arrival_rate: float, service_rate: float) -> float:
    """Average wait in queue over all customers (those who never wait count 0)."""
    load = arrival_rate / service_rate
    return erlang_c(agents, load) / (agents * service_rate - arrival_rate)
