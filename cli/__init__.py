"""oomguard: catch Kubernetes OOMKills before they happen."""

__version__ = "0.1.0"
