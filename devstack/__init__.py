"""Local stack orchestration: Azurite, the ARM emulator and the local function host.

Used by the tests, `make demo`, `make run` and the benchmarks so that all of them start and stop
services the same way: loopback only, free ports, readiness checked, stopped by their own PIDs.
"""
