"""A DAG that fails the way data pipelines do at 3 a.m.: its transform step
submits a Databricks job (here, only the log lines the Databricks operators
print) and the job fails on a schema change. opsdeck's tests run it on a real
Airflow and triage it."""

from datetime import datetime, timedelta
import logging

from airflow import DAG
from airflow.exceptions import AirflowException
from airflow.operators.python import PythonOperator

log = logging.getLogger("airflow.task")


def extract():
    log.info("extracted 120455 orders from sql-sales-prod")


def transform_on_databricks():
    # What DatabricksSubmitRunOperator logs before it polls the run.
    log.info("Run submitted with run_id: 448812")
    log.info(
        "View run status, Spark UI, and logs at "
        "https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456#job/987/run/448812"
    )
    raise AirflowException(
        "Job run failed with terminal state: {'life_cycle_state': 'TERMINATED', "
        "'result_state': 'FAILED', 'state_message': 'Task build_order_facts failed with message: "
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name "
        "`order_ts` cannot be resolved.'}"
    )


def publish():
    log.info("published order_facts")


with DAG(
    dag_id="nightly_orders",
    description="Orders from SQL to the lake, transformed on Databricks",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
    tags=["sales"],
) as dag:
    (
        PythonOperator(task_id="extract", python_callable=extract)
        >> PythonOperator(task_id="transform_on_databricks", python_callable=transform_on_databricks)
        >> PythonOperator(task_id="publish", python_callable=publish)
    )
