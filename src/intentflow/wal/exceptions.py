"""Errors of the write-ahead log."""


class WalError(Exception):
    """Base class for log errors."""


class WalCorruptError(WalError):
    """A closed segment holds a damaged record: the disk lost data the log had fsynced."""


class WalClosedError(WalError):
    """The log is shutting down and takes no more appends."""
