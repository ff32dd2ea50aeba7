"""mlops: the core library of an Airflow-native batch MLOps system.

Plain Python, no Airflow import. Each module is one lifecycle step:
``validation``, ``training``, ``evaluation``, ``registry``, ``scoring`` and
``monitoring``, plus ``config`` and ``storage``.
"""

__version__ = "0.1.0"
