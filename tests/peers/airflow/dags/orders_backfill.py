"""A DAG file that no longer imports: it names a provider package that is not
installed (a classic after an image upgrade). Airflow lists it as an import
error and the DAG is missing; opsdeck's not-found answer for `orders_backfill`
must point here."""

from airflow import DAG
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator  # noqa: F401

with DAG(dag_id="orders_backfill", schedule=None) as dag:
    pass
