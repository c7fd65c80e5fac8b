"""The deployed side, through azure-ai-ml's MLClient: a stack's workspace, remote invoke, endpoint logs, batch jobs.

Nothing here runs in tests against Azure: the tests replace MLClient's operations with fakes that
return azure-ai-ml's own entities.
"""
