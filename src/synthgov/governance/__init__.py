"""Governance of what synthgov is allowed to do with a table: the synthetic-data guard (``guard``) that keeps
synthetic tables out of training unless the user says so, within a policy, with an audit record."""
