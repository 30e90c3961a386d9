"""The investigation steps of the Cloud Run threat response playbook, as plain lookups.

Each module takes the shared clients, the settings and a FindingRecord and returns a typed
result; rendering lives in blocks.investigate and blocks.investigate_cloud_run, the Slack
listeners in handlers.investigate.
"""
