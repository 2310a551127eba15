"""Tag names the app writes on the resources it creates."""

# On every target collection the app creates; retention deletes only inside those.
MANAGED_TAG = "rpcopy-managed"
