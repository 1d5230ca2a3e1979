"""rules/runtimes"""
