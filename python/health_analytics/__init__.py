"""health_analytics: the health-analytics engine for Python, pandas and Spark.

compute(...)        healthmetrics (+ users) in, analytics documents and dead letters out: the
                    same documents as `health-analytics compute`.
compute_frame(...)  the same for a pandas DataFrame of healthmetrics.
health_analytics.spark  the Structured Streaming runner (draft; see docs/SPARK.md).
"""

from ._compute import ComputeResult, compute, compute_frame

__all__ = ["ComputeResult", "compute", "compute_frame"]
