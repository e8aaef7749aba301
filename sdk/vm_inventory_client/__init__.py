"""A client library for accessing VM Inventory"""

from . import facade
from .client import AuthenticatedClient, Client
from .facade import *  # noqa: F403 - the hand-written facade's public names (facade.__all__)

__all__ = ["AuthenticatedClient", "Client"]
__all__ += facade.__all__
