"""Device roles: each role's behaviour behind one small interface (:class:`edge_agent.roles.base.Role`).

Roles get narrow ports (record commands, emit workflow events, show a view, publish, is the uplink online, now)
and never import paho or edge_agent/sync. The shopper's basket and session (:mod:`.basket`) serve every role.
"""
