"""kopf registrations, one module per concern; importing this package registers them.

A reconcile runs when its object changes (create, update, resume), when one of its
children changes (their watch events: a pod became ready, a Deployment was deleted or
edited), and on a slow safety resync. Each reads what it needs from the in-memory indexes
fed by the watches (``indexes``), so a steady state costs no API call and no write. Every
handler acts only in the namespaces this install serves (``Settings.serves``).
"""

from modelops_operator.handlers import (  # noqa: F401 (registration by import)
    autoscaling,
    indexes,
    metrics,
    model,
    modelversion,
    namespaces,
    rollout,
    trainingjob,
)
