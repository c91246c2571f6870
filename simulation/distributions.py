"""Random durations a scenario describes: handle times, customers' patience,
reply delays, offer response delays.

A distribution is written as a number (constant seconds) or a mapping::

    {dist: exponential, mean: 300}
    {dist: lognormal, mean: 420, sd: 300}      # or {dist: lognormal, mu: 5.8, sigma: 0.6}
    {dist: uniform, low: 30, high: 90}
    {dist: constant, value: 60}
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


class ScenarioError(ValueError):
    """A scenario or what-if file that cannot be simulated; the message says why."""


@dataclass(frozen=True, slots=True)
class Distribution:
    kind: str
    a: float  # exponential: mean; lognormal: mu; uniform: low; constant: value
    b: float = 0.0  # lognormal: sigma; uniform: high

    def sample(self, rng: random.Random) -> float:
        if self.kind == "exponential":
            return rng.expovariate(1 / self.a) if self.a > 0 else 0.0
        if self.kind == "lognormal":
            return rng.lognormvariate(self.a, self.b)
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return self.a

    @property
    def mean(self) -> float:
        if self.kind == "lognormal":
            return math.exp(self.a + self.b**2 / 2)
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a


def _number(spec: dict, key: str, where: str, *, positive: bool = False) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and value == 0):
        raise ScenarioError(f"{where}: '{key}' must be a {'positive' if positive else 'non-negative'} number")
    return float(value)


def parse(spec: object, where: str) -> Distribution:
    """A distribution from a scenario value; ``where`` names it in errors."""
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        if spec < 0:
            raise ScenarioError(f"{where}: seconds must not be negative")
        return Distribution("constant", float(spec))
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: a number of seconds or a mapping with 'dist'")
    kind = spec.get("dist", "constant")
    if kind == "exponential":
        return Distribution(kind, _number(spec, "mean", where))
    if kind == "lognormal":
        if "mu" in spec:
            mu = spec["mu"]
            if isinstance(mu, bool) or not isinstance(mu, int | float):
                raise ScenarioError(f"{where}: 'mu' must be a number")
            return Distribution(kind, float(mu), _number(spec, "sigma", where))
        mean, sd = _number(spec, "mean", where, positive=True), _number(spec, "sd", where)
        sigma2 = math.log(1 + (sd / mean) ** 2)
        return Distribution(kind, math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    if kind == "uniform":
        low, high = _number(spec, "low", where), _number(spec, "high", where)
        if high < low:
            raise ScenarioError(f"{where}: 'high' must not be below 'low'")
        return Distribution(kind, low, high)
    if kind == "constant":
        return Distribution(kind, _number(spec, "value", where))
    raise ScenarioError(f"{where}: unknown dist {kind!r} (exponential, lognormal, uniform, constant)")
