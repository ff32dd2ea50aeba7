# Image for docker-compose.yaml: the pinned lock plus the mlops library (editable, like `make install`).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt pyproject.toml /opt/mlops/
COPY --chown=airflow:root include /opt/mlops/include
RUN pip install --no-cache-dir -r /opt/mlops/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/mlops
