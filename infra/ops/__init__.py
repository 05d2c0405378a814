"""Operations as code: the generated dashboard and alarms of template.yaml, the deployment
smoke test, the cost model's price table."""
