"""The Pulumi program for amlops: one ComponentResource per module, wired by __main__.py."""
