"""What the jobs share: loading the configuration, the Spark session, the Delta tables,
the read-and-validate pipeline, the model store and the command-line runner.

Every module directly in `jobs/` is an entry point (`dmde <job>` or
`spark-submit jobs/<job>.py`); none imports another, they all import from here.
"""
