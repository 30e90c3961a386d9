"""Local stand-ins for Slack and Google Cloud that speak the real protocols on 127.0.0.1.

The demo, the benchmarks and the test suite run the official client libraries against
these servers; they are as strict as the services' documentation so that a request the
real service would refuse is refused here too.
"""
