"""Policy rules over the offline plan: `amlops check`, and the same rules in the CrossGuard pack (policy/).

Kept to the standard library (rules, subject, crossguard) so the pack's own virtualenv can import it;
`amlops.policy.runner` is the part that loads stacks and plans.
"""
