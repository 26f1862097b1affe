"""modelops for Airflow 3 (the ``modelops[airflow]`` extra): operators, a trigger and a sensor
shaped like the ML Engine operators of Airflow's Google provider.

Import them from their modules, as a provider's are imported; this package itself imports
nothing of Airflow::

    from modelops_airflow.operators import ModelOpsTrainingOperator
    from modelops_airflow.sensors import ModelOpsServingSensor
"""
