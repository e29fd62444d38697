"""Benchmarks for `make bench`: each part measures straitwatch against its peers in the same run."""
