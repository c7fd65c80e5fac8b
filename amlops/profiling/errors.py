"""The typed errors of `amlops profile`: an endpoint that cannot be measured, or a load no size holds."""

from __future__ import annotations

from amlops.errors import AmlopsError


class ProfileError(AmlopsError):
    """A profile could not measure the endpoint or could not recommend a size."""


class EndpointUnreachable(ProfileError):
    """No connection to the endpoint (refused, unknown host, timed out)."""


class EndpointAuthError(ProfileError):
    """The endpoint refused the key (401/403)."""


class EndpointFailing(ProfileError):
    """The endpoint answers, but with errors: no size can be recommended from failures."""


class NoRecommendation(ProfileError):
    """The measurements hold no step within the SLO, or no size holds the target."""
