"""Copy policies: which source restore point collections are protected and where copies go.

Two sources, one model:

- a JSON policy file (path in the POLICY_FILE setting), validated as a whole at startup: every
  problem is reported with file, line, column and field path, and the app never runs on half a
  policy (`load_policy_file` returns the complete set or raises `PolicyError`);
- ``rpcopy-*`` tags on a source collection (opt-in by the collection's owner), parsed leniently:
  a bad tag value is reported, never raised, because one owner's typo must not stop the sweep.

Matching is pure: `PolicySet.resolve` turns a collection (id, region, tags) into the targets it
must be copied to. The format and the precedence rule are documented in docs/policies.md.
"""
