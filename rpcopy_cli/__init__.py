"""`rpcopy`: the command line for a deployed rpcopy app (or the local stack), over its HTTP API.

It talks HTTP only (httpx), sends the function key in the `x-functions-key` header (never in a
URL), and shows what the API answers: tables and live per-disk progress (Rich), or JSON.
"""
