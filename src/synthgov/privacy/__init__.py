"""Differential privacy: the accountant (:mod:`.accounting`); DP generators and the budget ledger build on it."""
