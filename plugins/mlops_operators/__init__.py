"""Custom operators: thin adapters from Airflow context to :mod:`mlops` calls."""
