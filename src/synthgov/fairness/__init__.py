"""Bias mitigation at generation time (issue 21, part 2): sensitive groups (``--fair``), the target cell counts of
each strategy (``rebalance``, ``parity``), counterfactual pairs, and the before/after figures a release states.

The strategies sample conditions exactly, so they work with every generator: each cell (a group, or a group and a
label) is drawn under its own conditions, and the released rows have the requested counts exactly."""

from synthgov.fairness.groups import GroupSpec, parse_fair
from synthgov.fairness.strategies import STRATEGIES

__all__ = ["STRATEGIES", "GroupSpec", "parse_fair"]
