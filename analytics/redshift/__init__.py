"""The Redshift side of analytics: DDL rendered from ``analytics.schema``, daily loads by COPY
from the exported Parquet through the Redshift Data API, and Spectrum over the same files."""
