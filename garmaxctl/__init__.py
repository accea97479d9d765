"""garmaxctl: one command to deploy and operate the GARMAX AI platform on AWS."""

__version__ = "0.2.0"
