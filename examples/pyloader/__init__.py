"""Minimal pure-Python BPF loader (see bpfload.py); importable as ``pyloader.bpfload``."""

from .bpfload import BPFError, LoaderError, Map, Object, Program, core_relo_count

__all__ = ["BPFError", "LoaderError", "Map", "Object", "Program", "core_relo_count"]
